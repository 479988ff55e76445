/**
 * The model: hyper-parameters ({@link dev.tern.model.ModelConfig}), weights
 * ({@link dev.tern.model.ModelWeights}) loaded from GGUF or llama2.c files
 * ({@link dev.tern.model.Model#load}), one small {@link dev.tern.model.Architecture} per GGUF
 * architecture, and the batched forward pass over a paged KV cache
 * ({@link dev.tern.model.ForwardPass}, {@link dev.tern.model.Batch}) with its kernels
 * ({@code Kernels}: matmul, RMSNorm, SwiGLU; {@code Rope}; {@code Attention}) run on a
 * persistent {@link dev.tern.model.WorkerPool}.
 */
package dev.tern.model;
