/**
 * The paged KV cache: a {@link dev.tern.kv.BlockPool} of reference-counted blocks of 16
 * positions (keys and values of every layer), and one {@link dev.tern.kv.BlockTable} per
 * sequence mapping its positions to blocks. {@link dev.tern.kv.KVCacheType} sets the precision.
 */
package dev.tern.kv;
