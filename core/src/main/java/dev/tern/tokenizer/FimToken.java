package dev.tern.tokenizer;

/**
 * The fill-in-the-middle tokens of code models, in llama.cpp's order: the prefix, suffix and middle
 * markers of an infill prompt, and the pad, repository and file-separator tokens (which end
 * generation). {@link #key} names their GGUF metadata ({@code tokenizer.ggml.<key>_token_id}).
 */
public enum FimToken {
    PREFIX("fim_pre"), SUFFIX("fim_suf"), MIDDLE("fim_mid"), PAD("fim_pad"), REPO("fim_rep"), SEPARATOR("fim_sep");

    public final String key;

    FimToken(String key) {
        this.key = key;
    }
}
