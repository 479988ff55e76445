/**
 * The paged KV cache: a {@link dev.tern.kv.BlockPool} of reference-counted blocks of 16
 * positions (keys and values of every layer), and one {@link dev.tern.kv.BlockTable} per
 * sequence mapping its positions to blocks. {@link dev.tern.kv.KVCacheType} sets the storage:
 * F32, F16 (the default) or Q8_0, packed so that a deep cache reads half or about a quarter of
 * the bytes of F32 per token.
 */
package dev.tern.kv;
