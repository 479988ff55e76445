package dev.tern.tensor;

/**
 * The ggml tensor types with their GGUF ids and block layouts (elements per block, bytes per
 * block), as ggml's type traits define them. Every id is listed so that any GGUF file can be
 * inspected; {@link #isSupported()} says which ones Tern computes with and writes
 * ({@link #requiresImportance()}: some only with an importance matrix).
 */
public enum GGMLType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17);

    private static final GGMLType[] BY_ID = new GGMLType[64];

    static {
        for (GGMLType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    public final int id;
    public final int blockSize;
    public final int blockBytes;

    GGMLType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** The type with this GGUF id, or null when ggml has no such type. */
    public static GGMLType byId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    /** Bytes taken by {@code elements} values; elements must be a whole number of blocks. */
    public long byteSize(long elements) {
        return elements / blockSize * blockBytes;
    }

    /** The types Tern computes with, comma-separated, for error messages. */
    public static String supportedNames() {
        return java.util.Arrays.stream(values()).filter(GGMLType::isSupported).map(Enum::name)
                .collect(java.util.stream.Collectors.joining(", "));
    }

    /**
     * Whether quantizing to this type needs an importance matrix: llama.cpp's search for these lattice
     * types has no defined weights without one (ggml_quantize_requires_imatrix).
     */
    public boolean requiresImportance() {
        return this == IQ2_XXS || this == IQ2_XS || this == IQ1_S;
    }

    /**
     * Whether this type's quantizer searches a lattice grid: seconds per large matrix, where the other
     * types take milliseconds (random benchmark models fill these with random blocks instead).
     */
    public boolean isGridSearched() {
        return switch (this) {
            case IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S -> true;
            default -> false;
        };
    }

    public boolean isSupported() {
        return switch (this) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M, TQ1_0, TQ2_0, MXFP4 -> true;
            default -> false;
        };
    }
}
