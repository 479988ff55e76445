package dev.tern.model;

import dev.tern.tensor.Tensor;

/**
 * A deliberately plain transformer in the manner of llama2.c's run.c, with no cache and no
 * batching: every call recomputes the whole sequence in double precision, token by token,
 * with explicit loops. The independent reference for the engine's forward pass.
 */
public final class NaiveTransformer {
    private final ModelConfig c;
    private final ModelWeights w;

    public NaiveTransformer(Model model) {
        this.c = model.config();
        this.w = model.weights();
    }

    /** The final hidden state of every position, after the output norm: what embeddings pool. */
    public double[][] finalHidden(int[] tokens) {
        int n = tokens.length, hd = c.headDim();
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) {
            x[t] = row(w.tokenEmbedding(), tokens[t]);
        }
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] xb = rmsNorm(x[t], lw.attnNorm());
                q[t] = rope(headNorm(add(matvec(lw.wq(), xb), lw.bq()), lw.qNorm()), t, c.heads());
                k[t] = rope(headNorm(add(matvec(lw.wk(), xb), lw.bk()), lw.kNorm()), t, c.kvHeads());
                v[t] = add(matvec(lw.wv(), xb), lw.bv());
            }
            for (int t = 0; t < n; t++) {
                double[] att = new double[c.qDim()];
                for (int h = 0; h < c.heads(); h++) {
                    int kvh = h / (c.heads() / c.kvHeads());
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int p = 0; p <= t; p++) {
                        for (int i = 0; i < hd; i++) {
                            s[p] += q[t][h * hd + i] * k[p][kvh * hd + i];
                        }
                        s[p] /= Math.sqrt(hd);
                        max = Math.max(max, s[p]);
                    }
                    double sum = 0;
                    for (int p = 0; p <= t; p++) {
                        s[p] = Math.exp(s[p] - max);
                        sum += s[p];
                    }
                    for (int p = 0; p <= t; p++) {
                        for (int i = 0; i < hd; i++) {
                            att[h * hd + i] += s[p] / sum * v[p][kvh * hd + i];
                        }
                    }
                }
                double[] o = matvec(lw.wo(), att);
                for (int i = 0; i < c.dim(); i++) {
                    x[t][i] += o[i];
                }
            }
            for (int t = 0; t < n; t++) {
                double[] xb = rmsNorm(x[t], lw.ffnNorm());
                double[] g = matvec(lw.gate(), xb), u = matvec(lw.up(), xb);
                for (int i = 0; i < g.length; i++) {
                    g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                }
                double[] d = matvec(lw.down(), g);
                for (int i = 0; i < c.dim(); i++) {
                    x[t][i] += d[i];
                }
            }
        }
        double[][] out = new double[n][];
        for (int t = 0; t < n; t++) {
            out[t] = rmsNorm(x[t], w.outputNorm());
        }
        return out;
    }

    /** Logits after the last of {@code tokens}. */
    public float[] lastLogits(int[] tokens) {
        double[][] h = finalHidden(tokens);
        double[] logits = matvec(w.output(), h[h.length - 1]);
        float[] out = new float[logits.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) logits[i];
        }
        return out;
    }

    /** Qwen3's q/k norm: each head RMS-normalised with the same weights (none: unchanged). */
    private double[] headNorm(double[] x, float[] weight) {
        if (weight == null) {
            return x;
        }
        int hd = c.headDim();
        double[] out = new double[x.length];
        for (int h = 0; h < x.length / hd; h++) {
            double[] head = rmsNorm(java.util.Arrays.copyOfRange(x, h * hd, (h + 1) * hd), weight);
            System.arraycopy(head, 0, out, h * hd, hd);
        }
        return out;
    }

    private double[] rope(double[] x, int pos, int heads) {
        int hd = c.headDim(), d = c.ropeDims();
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < d / 2; i++) {
                double freq = Math.pow(c.ropeTheta(), -2.0 * i / d) * c.ropeFreqScale();
                if (w.ropeFreqFactors() != null) {
                    freq /= w.ropeFreqFactors()[i];
                }
                double a = pos * freq;
                int i0 = c.ropeStyle() == RopeStyle.NORMAL ? h * hd + 2 * i : h * hd + i;
                int i1 = c.ropeStyle() == RopeStyle.NORMAL ? i0 + 1 : i0 + d / 2;
                double x0 = x[i0], x1 = x[i1];
                x[i0] = x0 * Math.cos(a) - x1 * Math.sin(a);
                x[i1] = x0 * Math.sin(a) + x1 * Math.cos(a);
            }
        }
        return x;
    }

    private double[] rmsNorm(double[] x, float[] weight) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double scale = 1 / Math.sqrt(ss / x.length + c.rmsEps());
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * scale * weight[i];
        }
        return out;
    }

    private static double[] add(double[] x, float[] bias) {
        if (bias != null) {
            for (int i = 0; i < x.length; i++) {
                x[i] += bias[i];
            }
        }
        return x;
    }

    private static double[] matvec(Tensor m, double[] x) {
        double[] out = new double[m.rows()];
        float[] row = new float[m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            m.dequantizeRow(r, row, 0);
            for (int i = 0; i < row.length; i++) {
                out[r] += row[i] * x[i];
            }
        }
        return out;
    }

    private static double[] row(Tensor m, int r) {
        float[] f = new float[m.cols()];
        m.dequantizeRow(r, f, 0);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
