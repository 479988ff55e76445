package dev.tern.model;

/** Llama 1/2/3 and the models that reuse its GGUF layout: Mistral, SmolLM, TinyLlama. */
public final class LlamaArchitecture implements Architecture {
    @Override
    public String name() {
        return "llama";
    }

    @Override
    public RopeStyle ropeStyle() {
        return RopeStyle.NORMAL;
    }

    @Override
    public boolean qkvBias() {
        return false;
    }
}
