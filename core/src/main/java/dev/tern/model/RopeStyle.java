package dev.tern.model;

/** Which elements of a head RoPE rotates together, as llama.cpp's rope modes define them. */
public enum RopeStyle {
    /** Adjacent pairs (x[2i], x[2i+1]): llama, Mistral, and llama2.c's run.c. */
    NORMAL,
    /** Halves (x[i], x[i + d/2]): GPT-NeoX, Qwen2. */
    NEOX
}
