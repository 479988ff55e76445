package dev.tern.model;

/**
 * Qwen3 (dense): llama's block without biases, an RMSNorm over each head of q and of k before
 * RoPE ({@code blk.N.attn_q_norm.weight}, {@code attn_k_norm.weight}, one weight per head
 * dimension), NeoX-style RoPE, and heads that need not divide the model width.
 */
public final class Qwen3Architecture implements Architecture {
    @Override
    public String name() {
        return "qwen3";
    }

    @Override
    public RopeStyle ropeStyle() {
        return RopeStyle.NEOX;
    }

    @Override
    public boolean qkvBias() {
        return false;
    }

    @Override
    public boolean qkNorm() {
        return true;
    }
}
