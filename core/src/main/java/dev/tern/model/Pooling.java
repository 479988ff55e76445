package dev.tern.model;

/**
 * How a text's embedding is made from its tokens' final hidden states (llama.cpp's
 * {@code <arch>.pooling_type}): their mean, the first token's, or the last token's (Qwen3-Embedding).
 */
public enum Pooling {
    MEAN, CLS, LAST;

    /**
     * llama.cpp's pooling type number (1 mean, 2 cls, 3 last, 4 rank: the token a {@link ClassifierHead}
     * reads, Qwen3's last and other models' first, as llama.cpp picks it); anything else, a decoder's
     * default, is mean.
     */
    public static Pooling ofGguf(int type, String architecture) {
        return switch (type) {
            case 2 -> CLS;
            case 3 -> LAST;
            case ClassifierHead.RANK_POOLING -> ClassifierHead.readsLastToken(architecture) ? LAST : CLS;
            default -> MEAN;
        };
    }
}
