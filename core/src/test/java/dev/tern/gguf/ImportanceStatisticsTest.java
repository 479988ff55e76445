package dev.tern.gguf;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama-imatrix --show-statistics' figures on matrices whose answers are known by hand. */
class ImportanceStatisticsTest {
    private static ImportanceMatrix.Entry entry(float[] sumSquares, float... counts) {
        return new ImportanceMatrix.Entry(sumSquares, null, counts);
    }

    @Test
    void figuresOfOneWeight() {
        ImportanceMatrix m = new ImportanceMatrix(Map.of(
                "blk.0.even.weight", entry(new float[]{4, 4, 4, 4}, 2),
                "blk.0.spike.weight", entry(new float[]{1, 0, 0, 0}, 1),
                // the second expert saw no token: left out
                "blk.0.experts.weight", entry(new float[]{2, 6, 9, 9}, 2, 0)), List.of("t"), 1, 8);
        Map<String, ImportanceStatistics.Tensor> t = byName(ImportanceStatistics.tensors(m));

        ImportanceStatistics.Tensor even = t.get("blk.0.even.weight");
        assertEquals(8, even.sum(), 1e-12);
        assertEquals(2, even.mean(), 1e-12);
        assertEquals(0, even.stdDev(), 1e-12);
        assertEquals(2, even.entropy(), 1e-12);
        assertEquals(1, even.normalizedEntropy(), 1e-12);
        assertEquals(0, even.zdScore(), 1e-12);
        assertEquals(1, even.active(), 1e-12);

        ImportanceStatistics.Tensor spike = t.get("blk.0.spike.weight");
        assertEquals(0.25, spike.mean(), 1e-12);
        assertEquals(Math.sqrt(0.1875), spike.stdDev(), 1e-12);
        assertEquals(0, spike.entropy(), 1e-12);
        assertEquals(0.25, spike.active(), 1e-12);
        // only the spike lies more than one standard deviation (0.433) from the mean
        assertEquals(0.25, spike.zdScore(), 1e-12);
        assertEquals(0, spike.min(), 0);
        assertEquals(1, spike.max(), 0);

        ImportanceStatistics.Tensor experts = t.get("blk.0.experts.weight");
        assertEquals(2, experts.n());
        assertEquals(4, experts.sum(), 1e-12);
        assertTrue(Double.isNaN(experts.cosSim()), "layer 0 has no previous layer");
    }

    @Test
    void similarityWithThePreviousLayer() {
        ImportanceMatrix m = new ImportanceMatrix(Map.of(
                "blk.0.a.weight", entry(new float[]{1, 0}, 1),
                "blk.1.a.weight", entry(new float[]{0, 3}, 1),
                "blk.2.a.weight", entry(new float[]{0, 6}, 2),
                "blk.2.b.weight", entry(new float[]{1, 1}, 1),
                "blk.3.b.weight", entry(new float[]{1, 0}, 1),
                "output.weight", entry(new float[]{1, 1}, 1)), List.of("t"), 1, 8);
        List<ImportanceStatistics.Tensor> ts = ImportanceStatistics.tensors(m);
        assertEquals("output.weight", ts.getFirst().name());
        Map<String, ImportanceStatistics.Tensor> t = byName(ts);
        assertEquals(0, t.get("blk.1.a.weight").cosSim(), 1e-12);
        assertEquals(1, t.get("blk.2.a.weight").cosSim(), 1e-12);
        assertTrue(Double.isNaN(t.get("blk.2.b.weight").cosSim()));
        assertEquals(Math.sqrt(0.5), t.get("blk.3.b.weight").cosSim(), 1e-12);

        List<ImportanceStatistics.Layer> layers = ImportanceStatistics.layers(ts);
        assertEquals(List.of(0, 1, 2, 3), layers.stream().map(ImportanceStatistics.Layer::layer).toList());
        assertTrue(Double.isNaN(layers.get(0).cosSim()));
        assertEquals(1, layers.get(2).cosSim(), 1e-12);
        assertEquals(5, layers.get(2).sum(), 1e-12);
    }

    private static Map<String, ImportanceStatistics.Tensor> byName(List<ImportanceStatistics.Tensor> ts) {
        return ts.stream().collect(java.util.stream.Collectors.toMap(ImportanceStatistics.Tensor::name, x -> x));
    }
}
