package dev.tern.gguf;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What llama-imatrix {@code --show-statistics} tells about an importance matrix, from each weight's
 * mean squared inputs e[j] = Σx²/count (per expert matrix, those with no count left out): their sum,
 * extremes, mean and standard deviation; the share above 1e-5 (inputs that carry signal); the
 * entropy of their distribution e/Σe in bits, also divided by its largest possible value log2(n); the
 * ZD score, the share more than one standard deviation from the mean; and the cosine similarity with
 * the same weight in the previous layer. Layers whose inputs hardly change from the previous one
 * (similarity near 1) are the candidates for {@code tern quantize --prune-layers}.
 */
public final class ImportanceStatistics {
    private static final double ACTIVE = 1e-5;

    /** One weight's statistics; {@code cosSim} is NaN without a previous layer's. */
    public record Tensor(String name, int layer, double sum, double min, double max, double mean, double stdDev,
                         double active, int n, double entropy, double normalizedEntropy, double zdScore, double cosSim) {
    }

    /** One layer's: the sum of its weights' sums, and the means of their ZD scores and similarities. */
    public record Layer(int layer, double sum, double zdScore, double cosSim) {
    }

    private ImportanceStatistics() {
    }

    /** Every entry's statistics, by layer, then name (weights outside the layers first). */
    public static List<Tensor> tensors(ImportanceMatrix m) {
        Map<String, double[]> means = new TreeMap<>();
        m.entries().forEach((name, e) -> means.put(name, meanSquares(e)));
        List<Tensor> out = new ArrayList<>();
        means.forEach((name, e) -> {
            if (e.length > 0) {
                int layer = LayerPruning.layerOf(name);
                double[] prev = layer > 0 ? means.get(name.replaceFirst("blk\\.\\d+\\.", "blk." + (layer - 1) + ".")) : null;
                out.add(of(name, layer, e, prev));
            }
        });
        out.sort(Comparator.comparingInt(Tensor::layer).thenComparing(Tensor::name));
        return out;
    }

    /** Per layer (those with a number), from {@link #tensors}. */
    public static List<Layer> layers(List<Tensor> tensors) {
        Map<Integer, List<Tensor>> by = new TreeMap<>();
        for (Tensor t : tensors) {
            if (t.layer() >= 0) {
                by.computeIfAbsent(t.layer(), k -> new ArrayList<>()).add(t);
            }
        }
        List<Layer> out = new ArrayList<>();
        by.forEach((layer, ts) -> out.add(new Layer(layer, ts.stream().mapToDouble(Tensor::sum).sum(),
                ts.stream().mapToDouble(Tensor::zdScore).average().orElse(Double.NaN),
                ts.stream().mapToDouble(Tensor::cosSim).filter(c -> !Double.isNaN(c)).average().orElse(Double.NaN))));
        return out;
    }

    private static Tensor of(String name, int layer, double[] e, double[] prev) {
        int n = e.length;
        double sum = 0, min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        int active = 0;
        for (double v : e) {
            sum += v;
            min = Math.min(min, v);
            max = Math.max(max, v);
            if (v > ACTIVE) {
                active++;
            }
        }
        double mean = sum / n;
        double var = 0;
        for (double v : e) {
            var += (v - mean) * (v - mean);
        }
        double std = Math.sqrt(var / n);
        double entropy = 0;
        int far = 0;
        for (double v : e) {
            double p = sum > 0 ? v / sum : 0;
            if (p > 0) {
                entropy -= p * Math.log(p) / Math.log(2);
            }
            if (std > 0 && Math.abs(v - mean) / std > 1) {
                far++;
            }
        }
        double normalized = n > 1 ? entropy / (Math.log(n) / Math.log(2)) : 0;
        return new Tensor(name, layer, sum, min, max, mean, std, (double) active / n, n, entropy, normalized, (double) far / n,
                prev == null || prev.length != n ? Double.NaN : cosine(e, prev));
    }

    private static double cosine(double[] a, double[] b) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        if (na == 0 || nb == 0) {
            return na == nb ? 1 : 0;
        }
        return Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
    }

    /** Mean squared input of each column of each matrix that saw any token. */
    private static double[] meanSquares(ImportanceMatrix.Entry e) {
        int cols = e.cols();
        int seen = 0;
        for (float c : e.counts()) {
            seen += c > 0 ? 1 : 0;
        }
        double[] out = new double[seen * cols];
        int o = 0;
        for (int m = 0; m < e.counts().length; m++) {
            float c = e.counts()[m];
            for (int j = 0; c > 0 && j < cols; j++) {
                out[o++] = (double) e.sumSquares()[m * cols + j] / c;
            }
        }
        return out;
    }
}
