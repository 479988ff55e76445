package dev.tern.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Plain scalar ports of ggml's dequantize_row_* (ggml-quants.c), one value at a time: the
 * reference the vectorized {@link TensorFormat#dequantize} implementations must match bit for bit.
 */
final class ScalarDequantize {
    private ScalarDequantize() {
    }

    static void of(GGMLType type, MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        switch (type) {
            case Q8_0 -> q8_0(w, byteOffset, out, outOff, n);
            case Q4_0 -> q4_0(w, byteOffset, out, outOff, n);
            case Q4_1 -> q4_1(w, byteOffset, out, outOff, n);
            case Q5_0 -> q5_0(w, byteOffset, out, outOff, n);
            case Q5_1 -> q5_1(w, byteOffset, out, outOff, n);
            case Q2_K -> q2_k(w, byteOffset, out, outOff, n);
            case Q3_K -> q3_k(w, byteOffset, out, outOff, n);
            case Q4_K -> q4_k(w, byteOffset, out, outOff, n);
            case Q5_K -> q5_k(w, byteOffset, out, outOff, n);
            case Q6_K -> q6_k(w, byteOffset, out, outOff, n);
            case IQ4_NL -> iq4_nl(w, byteOffset, out, outOff, n);
            case IQ4_XS -> iq4_xs(w, byteOffset, out, outOff, n);
            case TQ1_0 -> tq1_0(w, byteOffset, out, outOff, n);
            case TQ2_0 -> tq2_0(w, byteOffset, out, outOff, n);
            case MXFP4 -> mxfp4(w, byteOffset, out, outOff, n);
            default -> throw new IllegalArgumentException(type.toString());
        }
    }

    static void q8_0(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 32; b++) {
            long o = byteOffset + (long) b * 34;
            float d = Blocks.f16(w, o);
            for (int j = 0; j < 32; j++) {
                out[outOff + b * 32 + j] = Blocks.s8(w, o + 2 + j) * d;
            }
        }
    }

    static void q4_0(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 32; b++) {
            long o = byteOffset + (long) b * 18;
            int yo = outOff + b * 32;
            float d = Blocks.f16(w, o);
            for (int j = 0; j < 32 / 2; j++) {
                int q = Blocks.u8(w, o + 2 + j);
                out[yo + j] = ((q & 0x0F) - 8) * d;
                out[yo + j + 32 / 2] = ((q >> 4) - 8) * d;
            }
        }
    }

    static void q4_1(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 32; b++) {
            long o = byteOffset + (long) b * 20;
            int yo = outOff + b * 32;
            float d = Blocks.f16(w, o);
            float m = Blocks.f16(w, o + 2);
            for (int j = 0; j < 32 / 2; j++) {
                int q = Blocks.u8(w, o + 4 + j);
                out[yo + j] = (q & 0x0F) * d + m;
                out[yo + j + 32 / 2] = (q >> 4) * d + m;
            }
        }
    }

    static void q5_0(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 32; b++) {
            long o = byteOffset + (long) b * 22;
            int yo = outOff + b * 32;
            float d = Blocks.f16(w, o);
            int qh = w.get(Blocks.I32, o + 2);
            for (int j = 0; j < 32 / 2; j++) {
                int q = Blocks.u8(w, o + 6 + j);
                int xh0 = ((qh >>> j) << 4) & 0x10;
                int xh1 = (qh >>> (j + 12)) & 0x10;
                out[yo + j] = (((q & 0x0F) | xh0) - 16) * d;
                out[yo + j + 32 / 2] = (((q >> 4) | xh1) - 16) * d;
            }
        }
    }

    static void q5_1(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 32; b++) {
            long o = byteOffset + (long) b * 24;
            int yo = outOff + b * 32;
            float d = Blocks.f16(w, o);
            float m = Blocks.f16(w, o + 2);
            int qh = w.get(Blocks.I32, o + 4);
            for (int j = 0; j < 32 / 2; j++) {
                int q = Blocks.u8(w, o + 8 + j);
                int xh0 = ((qh >>> j) << 4) & 0x10;
                int xh1 = (qh >>> (j + 12)) & 0x10;
                out[yo + j] = ((q & 0x0F) | xh0) * d + m;
                out[yo + j + 32 / 2] = ((q >> 4) | xh1) * d + m;
            }
        }
    }

    static void q2_k(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 256; b++) {
            long o = byteOffset + (long) b * 84;
            float d = Blocks.f16(w, o + 80);
            float min = Blocks.f16(w, o + 82);
            int y = outOff + b * 256;
            int is = 0;
            for (long q = o + 16; q < o + 80; q += 32) {
                for (int shift = 0; shift < 8; shift += 2) {
                    for (int half = 0; half < 32; half += 16) {
                        int sc = Blocks.u8(w, o + is++);
                        float dl = d * (sc & 0xF);
                        float ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++) {
                            out[y++] = dl * ((Blocks.u8(w, q + half + l) >> shift) & 3) - ml;
                        }
                    }
                }
            }
        }
    }

    static void q3_k(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 256; b++) {
            long o = byteOffset + (long) b * 110;
            float dAll = Blocks.f16(w, o + 108);
            int y = outOff + b * 256;
            int is = 0;
            int m = 1;
            for (long q = o + 32; q < o + 96; q += 32) {
                for (int shift = 0; shift < 8; shift += 2) {
                    for (int half = 0; half < 32; half += 16) {
                        int j = is++;
                        int low = j < 8 ? Blocks.u8(w, o + 96 + j) & 0xF : Blocks.u8(w, o + 96 + j - 8) >> 4;
                        int high = (Blocks.u8(w, o + 104 + j % 4) >> (2 * (j / 4))) & 3;
                        float dl = dAll * ((low | high << 4) - 32);
                        for (int l = 0; l < 16; l++) {
                            int hm = Blocks.u8(w, o + half + l);
                            out[y++] = dl * (((Blocks.u8(w, q + half + l) >> shift) & 3) - ((hm & m) != 0 ? 0 : 4));
                        }
                    }
                    m <<= 1;
                }
            }
        }
    }

    static void q4_k(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 256; b++) {
            long o = byteOffset + (long) b * 144;
            int y = outOff + b * 256;
            float d = Blocks.f16(w, o);
            float min = Blocks.f16(w, o + 2);
            for (int c = 0; c < 4; c++) {
                float d1 = d * KQuants.scaleK4(w, o + 4, 2 * c);
                float m1 = min * KQuants.minK4(w, o + 4, 2 * c);
                float d2 = d * KQuants.scaleK4(w, o + 4, 2 * c + 1);
                float m2 = min * KQuants.minK4(w, o + 4, 2 * c + 1);
                long q = o + 16 + 32 * c;
                for (int l = 0; l < 32; l++) {
                    out[y++] = d1 * (Blocks.u8(w, q + l) & 0xF) - m1;
                }
                for (int l = 0; l < 32; l++) {
                    out[y++] = d2 * (Blocks.u8(w, q + l) >> 4) - m2;
                }
            }
        }
    }

    static void q5_k(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 256; b++) {
            long o = byteOffset + (long) b * 176;
            int y = outOff + b * 256;
            float d = Blocks.f16(w, o);
            float min = Blocks.f16(w, o + 2);
            long qh = o + 16;
            for (int c = 0; c < 4; c++) {
                float d1 = d * KQuants.scaleK4(w, o + 4, 2 * c);
                float m1 = min * KQuants.minK4(w, o + 4, 2 * c);
                float d2 = d * KQuants.scaleK4(w, o + 4, 2 * c + 1);
                float m2 = min * KQuants.minK4(w, o + 4, 2 * c + 1);
                int u1 = 1 << (2 * c);
                int u2 = 2 << (2 * c);
                long ql = o + 48 + 32 * c;
                for (int l = 0; l < 32; l++) {
                    out[y++] = d1 * ((Blocks.u8(w, ql + l) & 0xF) + ((Blocks.u8(w, qh + l) & u1) != 0 ? 16 : 0)) - m1;
                }
                for (int l = 0; l < 32; l++) {
                    out[y++] = d2 * ((Blocks.u8(w, ql + l) >> 4) + ((Blocks.u8(w, qh + l) & u2) != 0 ? 16 : 0)) - m2;
                }
            }
        }
    }

    static void q6_k(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 256; b++) {
            long o = byteOffset + (long) b * 210;
            float d = Blocks.f16(w, o + 208);
            for (int h = 0; h < 2; h++) {
                long ql = o + 64 * h;
                long qh = o + 128 + 32 * h;
                long sc = o + 192 + 8 * h;
                int y = outOff + b * 256 + 128 * h;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int a = Blocks.u8(w, ql + l);
                    int c = Blocks.u8(w, ql + l + 32);
                    int hb = Blocks.u8(w, qh + l);
                    int q1 = ((a & 0xF) | ((hb & 3) << 4)) - 32;
                    int q2 = ((c & 0xF) | (((hb >> 2) & 3) << 4)) - 32;
                    int q3 = ((a >> 4) | (((hb >> 4) & 3) << 4)) - 32;
                    int q4 = ((c >> 4) | (((hb >> 6) & 3) << 4)) - 32;
                    out[y + l] = d * Blocks.s8(w, sc + is) * q1;
                    out[y + l + 32] = d * Blocks.s8(w, sc + is + 2) * q2;
                    out[y + l + 64] = d * Blocks.s8(w, sc + is + 4) * q3;
                    out[y + l + 96] = d * Blocks.s8(w, sc + is + 6) * q4;
                }
            }
        }
    }

    /** ggml's kvalues_iq4nl. */
    private static final int[] KVALUES_IQ4NL = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    static void iq4_nl(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 32; b++) {
            long o = byteOffset + (long) b * 18;
            int yo = outOff + b * 32;
            float d = Blocks.f16(w, o);
            for (int j = 0; j < 32 / 2; j++) {
                int q = Blocks.u8(w, o + 2 + j);
                out[yo + j] = d * KVALUES_IQ4NL[q & 0xF];
                out[yo + j + 32 / 2] = d * KVALUES_IQ4NL[q >> 4];
            }
        }
    }

    static void iq4_xs(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 256; b++) {
            long o = byteOffset + (long) b * 136;
            int y = outOff + b * 256;
            float d = Blocks.f16(w, o);
            int scalesH = Short.toUnsignedInt(w.get(Blocks.I16, o + 2));
            for (int ib = 0; ib < 256 / 32; ib++) {
                int ls = ((Blocks.u8(w, o + 4 + ib / 2) >> 4 * (ib % 2)) & 0xF) | (((scalesH >> 2 * ib) & 3) << 4);
                float dl = d * (ls - 32);
                long qs = o + 8 + 16 * ib;
                for (int j = 0; j < 16; j++) {
                    out[y + j] = dl * KVALUES_IQ4NL[Blocks.u8(w, qs + j) & 0xF];
                    out[y + j + 16] = dl * KVALUES_IQ4NL[Blocks.u8(w, qs + j) >> 4];
                }
                y += 32;
            }
        }
    }

    /** A trit of a TQ1_0 byte: ⌊3·(q·3ⁿ mod 256)/256⌋ − 1, in uint8 arithmetic as ggml computes it. */
    private static int trit(int q, int pow3) {
        return ((q * pow3 & 0xFF) * 3 >> 8) - 1;
    }

    static void tq1_0(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        int[] pow3 = {1, 3, 9, 27, 81};
        for (int b = 0; b < n / 256; b++) {
            long o = byteOffset + (long) b * 54;
            float d = Blocks.f16(w, o + 52);
            int y = outOff + b * 256;
            for (int t = 0; t < 5; t++) {
                for (int m = 0; m < 32; m++) {
                    out[y++] = (float) trit(Blocks.u8(w, o + m), pow3[t]) * d;
                }
            }
            for (int t = 0; t < 5; t++) {
                for (int m = 0; m < 16; m++) {
                    out[y++] = (float) trit(Blocks.u8(w, o + 32 + m), pow3[t]) * d;
                }
            }
            for (int t = 0; t < 4; t++) {
                for (int j = 0; j < 4; j++) {
                    out[y++] = (float) trit(Blocks.u8(w, o + 48 + j), pow3[t]) * d;
                }
            }
        }
    }

    static void tq2_0(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 256; b++) {
            long o = byteOffset + (long) b * 66;
            float d = Blocks.f16(w, o + 64);
            int y = outOff + b * 256;
            for (int j = 0; j < 64; j += 32) {
                for (int l = 0; l < 4; l++) {
                    for (int m = 0; m < 32; m++) {
                        out[y++] = (float) (((Blocks.u8(w, o + j + m) >> (l * 2)) & 3) - 1) * d;
                    }
                }
            }
        }
    }

    /** ggml's kvalues_mxfp4. */
    private static final int[] KVALUES_MXFP4 = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    static void mxfp4(MemorySegment w, long byteOffset, float[] out, int outOff, int n) {
        for (int b = 0; b < n / 32; b++) {
            long o = byteOffset + (long) b * 17;
            int e = Blocks.u8(w, o);
            // ggml_e8m0_to_fp32_half
            float d = Float.intBitsToFloat(e < 2 ? 0x00200000 << e : (e - 1) << 23);
            int yo = outOff + b * 32;
            for (int j = 0; j < 16; j++) {
                int q = Blocks.u8(w, o + 1 + j);
                out[yo + j] = KVALUES_MXFP4[q & 0x0F] * d;
                out[yo + j + 16] = KVALUES_MXFP4[q >> 4] * d;
            }
        }
    }
}
