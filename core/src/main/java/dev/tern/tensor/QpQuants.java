package dev.tern.tensor;

import java.util.Arrays;

/**
 * ggml's make_qp_quants: non-negative levels 0..nmax with a weighted least-squares scale, ported
 * with the same float operations in the same order so that results are bit-identical.
 */
final class QpQuants {
    private QpQuants() {
    }

    /**
     * Levels L[0..n) for x[xo..xo+n) with weights w[wo..wo+n): the scale nmax/max and 8 trial
     * scales around it are tried for the weighted squared error, then up to 5 passes move single
     * levels while that raises (Σwxl)²/Σwl². Returns Σwxl/Σwl² for the final levels (0 when x is
     * all below ggml's group_max_eps). L is unsigned as in C: a value x < 0 may round to a level
     * below 0, stored modulo 256 and read back as such, as ggml does.
     */
    static float makeQpQuants(int n, int nmax, float[] x, int xo, byte[] L, float[] w, int wo) {
        float max = 0;
        for (int i = 0; i < n; ++i) {
            max = max > x[xo + i] ? max : x[xo + i];
        }
        if (max < Blocks.GROUP_MAX_EPS) {
            Arrays.fill(L, 0, n, (byte) 0);
            return 0f;
        }
        float iscale = nmax / max;
        for (int i = 0; i < n; ++i) {
            L[i] = (byte) Blocks.nearestInt(iscale * x[xo + i]);
        }
        float scale = 1 / iscale;
        float bestMse = 0;
        for (int i = 0; i < n; ++i) {
            float diff = x[xo + i] - scale * (L[i] & 255);
            bestMse += w[wo + i] * diff * diff;
        }
        for (int is = -4; is <= 4; ++is) {
            if (is == 0) {
                continue;
            }
            float iscaleIs = (0.1f * is + nmax) / max;
            float scaleIs = 1 / iscaleIs;
            float mse = 0;
            for (int i = 0; i < n; ++i) {
                int l = Math.min(nmax, Blocks.nearestInt(iscaleIs * x[xo + i]));
                float diff = x[xo + i] - scaleIs * l;
                mse += w[wo + i] * diff * diff;
            }
            if (mse < bestMse) {
                bestMse = mse;
                iscale = iscaleIs;
            }
        }
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = Math.min(nmax, Blocks.nearestInt(iscale * x[xo + i]));
            L[i] = (byte) l;
            float wi = w[wo + i];
            sumlx += wi * x[xo + i] * l;
            suml2 += wi * l * l;
        }
        for (int itry = 0; itry < 5; ++itry) {
            int changed = 0;
            for (int i = 0; i < n; ++i) {
                float wi = w[wo + i];
                float xi = x[xo + i];
                int li = L[i] & 255;
                float slx = sumlx - wi * xi * li;
                float sl2 = suml2 - wi * li * li;
                if (slx > 0 && sl2 > 0) {
                    int newL = Math.min(nmax, Blocks.nearestInt(xi * sl2 / slx));
                    if (newL != li) {
                        slx += wi * xi * newL;
                        sl2 += wi * newL * newL;
                        if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[i] = (byte) newL;
                            sumlx = slx;
                            suml2 = sl2;
                            ++changed;
                        }
                    }
                }
            }
            if (changed == 0) {
                break;
            }
        }
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }
}
