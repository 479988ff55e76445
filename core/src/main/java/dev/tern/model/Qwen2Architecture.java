package dev.tern.model;

/** Qwen2 / Qwen2.5: llama's block with biases on q, k and v, and NeoX-style RoPE. */
public final class Qwen2Architecture implements Architecture {
    @Override
    public String name() {
        return "qwen2";
    }

    @Override
    public RopeStyle ropeStyle() {
        return RopeStyle.NEOX;
    }

    @Override
    public boolean qkvBias() {
        return true;
    }
}
