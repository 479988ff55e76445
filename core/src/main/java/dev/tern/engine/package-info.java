/**
 * Running a model: {@link dev.tern.engine.Engine} (worker pool + shared KV cache + forward
 * pass, batches over many sequences), the single-sequence {@link dev.tern.engine.Session}, the
 * recompute-from-scratch oracle {@link dev.tern.engine.Recompute}, and llama.cpp-compatible
 * {@link dev.tern.engine.Perplexity}.
 */
package dev.tern.engine;
