package dev.tern.gguf;

import dev.tern.tensor.GGMLType;

/**
 * llama-quantize's file types as it writes them by default (not {@code --pure}) for dense
 * Llama-family models: the type's base tensor type for most weights, and others where its
 * {@code llama_tensor_get_type_impl} chooses them: the output matrix (or a tied token embedding)
 * in Q6_K (Q8_0 for Q8_0, and when its rows do not split into the base type's blocks, and for
 * MXFP4_MOE); attn_v, ffn_down and attn_output raised per layer as each type says; TQ1_0/TQ2_0's
 * token embedding in Q4_K; MXFP4_MOE's dense matrices in Q8_0 (it keeps MXFP4 for experts). The
 * row-size fallback ({@link ModelQuantizer#tensorType}) applies afterwards, as in llama.cpp.
 */
public enum QuantMix {
    Q4_0(2, GGMLType.Q4_0), Q4_1(3, GGMLType.Q4_1), Q8_0(7, GGMLType.Q8_0), Q5_0(8, GGMLType.Q5_0), Q5_1(9, GGMLType.Q5_1),
    Q2_K(10, GGMLType.Q2_K), Q3_K_S(11, GGMLType.Q3_K), Q3_K_M(12, GGMLType.Q3_K), Q3_K_L(13, GGMLType.Q3_K),
    Q4_K_S(14, GGMLType.Q4_K), Q4_K_M(15, GGMLType.Q4_K), Q5_K_S(16, GGMLType.Q5_K), Q5_K_M(17, GGMLType.Q5_K),
    Q6_K(18, GGMLType.Q6_K), IQ4_NL(25, GGMLType.IQ4_NL), IQ4_XS(30, GGMLType.IQ4_XS), TQ1_0(36, GGMLType.TQ1_0),
    TQ2_0(37, GGMLType.TQ2_0), MXFP4_MOE(38, GGMLType.MXFP4);

    /** The llama_ftype number the file records. */
    public final int fileType;
    /** The type of the weights the mix does not change. */
    public final GGMLType base;

    QuantMix(int fileType, GGMLType base) {
        this.fileType = fileType;
        this.base = base;
    }

    /**
     * llama.cpp's name of a {@code general.file_type}: a mix's, else the one tensor type that file
     * type stands for (F32, F16, BF16, the IQ types), else "ftype N".
     */
    public static String fileTypeName(int fileType) {
        for (QuantMix m : values()) {
            if (m.fileType == fileType) {
                return m.name();
            }
        }
        for (GGMLType t : GGMLType.values()) {
            if (t.isSupported() && ModelQuantizer.fileType(t) == fileType) {
                return t.name();
            }
        }
        return "ftype " + fileType;
    }

    /** What the mix needs of the model: its layer count, GQA ratio, whether the output is the token embedding, 70B. */
    record Shape(int layers, int gqa, boolean tiedOutput, boolean is70B) {
        static Shape of(GGUFFile f) {
            String a = f.getString("general.architecture") + ".";
            int layers = f.getInt(a + "block_count"), heads = f.getInt(a + "attention.head_count");
            int kvHeads = f.getInt(a + "attention.head_count_kv", heads);
            // llama.cpp's LLM_TYPE_70B: a llama of 80 layers whose heads share KV heads
            boolean is70B = f.getString("general.architecture").equals("llama") && layers == 80 && heads != kvHeads;
            return new Shape(layers, heads / kvHeads, !f.hasTensor("output.weight"), is70B);
        }
    }

    /** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third in between. */
    private static boolean moreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /** The tensor's type in this mix, before the fallback for rows that do not split into its blocks. */
    GGMLType typeOf(String name, long rowLength, Shape s) {
        if (name.equals("output.weight") || s.tiedOutput() && name.equals("token_embd.weight")) {
            return this == MXFP4_MOE || rowLength % base.blockSize != 0 || base == GGMLType.Q8_0 ? GGMLType.Q8_0 : GGMLType.Q6_K;
        }
        if (this == MXFP4_MOE) {
            return GGMLType.Q8_0;
        }
        if (name.equals("token_embd.weight")) {
            return this == TQ1_0 || this == TQ2_0 ? GGMLType.Q4_K : base;
        }
        int layer = layerOf(name);
        if (name.endsWith("attn_v.weight")) {
            GGMLType t = switch (this) {
                case Q2_K -> s.gqa() >= 4 ? GGMLType.Q4_K : GGMLType.Q3_K;
                case Q3_K_M -> layer < 2 ? GGMLType.Q5_K : GGMLType.Q4_K;
                case Q3_K_L -> GGMLType.Q5_K;
                case IQ4_NL, IQ4_XS -> s.gqa() >= 4 ? GGMLType.Q5_K : base;
                case Q4_K_M, Q5_K_M -> moreBits(layer, s.layers()) ? GGMLType.Q6_K : base;
                case Q4_K_S -> layer < 4 ? GGMLType.Q5_K : base;
                default -> base;
            };
            return s.is70B() && (t == GGMLType.Q3_K || t == GGMLType.Q4_K) ? GGMLType.Q5_K : t;
        }
        if (name.endsWith("ffn_down.weight")) {
            return switch (this) {
                case Q2_K -> GGMLType.Q3_K;
                case Q3_K_M -> layer < s.layers() / 16 ? GGMLType.Q5_K : GGMLType.Q4_K;
                case Q3_K_L -> GGMLType.Q5_K;
                case Q4_K_M, Q5_K_M -> moreBits(layer, s.layers()) ? GGMLType.Q6_K : base;
                // without an importance matrix, as Tern quantizes
                case IQ4_NL, IQ4_XS -> layer < s.layers() / 8 ? GGMLType.Q5_K : base;
                case Q4_K_S -> layer < s.layers() / 8 ? GGMLType.Q5_K : base;
                default -> base;
            };
        }
        if (name.endsWith("attn_output.weight")) {
            return switch (this) {
                case Q2_K -> GGMLType.Q3_K;
                case Q3_K_M -> GGMLType.Q4_K;
                case Q3_K_L -> GGMLType.Q5_K;
                default -> base;
            };
        }
        return base;
    }

    /** N of blk.N., -1 outside the blocks. */
    private static int layerOf(String name) {
        if (!name.startsWith("blk.")) {
            return -1;
        }
        return Integer.parseInt(name.substring(4, name.indexOf('.', 4)));
    }
}
