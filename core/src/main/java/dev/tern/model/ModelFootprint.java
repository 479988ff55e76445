package dev.tern.model;

import dev.tern.tensor.Tensor;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;

/**
 * What a model costs in memory traffic: its size, its parameter count, and the bytes one decode
 * step must read. Every weight matrix is read once per step; of the embedding table only one row
 * is, unless the output matrix is the embedding itself (tied), which is then read whole.
 */
public record ModelFootprint(long modelBytes, long parameters, long weightBytesPerToken, long kvBytesPerPosition) {

    public static ModelFootprint of(Model model, double kvBytesPerPosition) {
        ModelWeights w = model.weights();
        ModelConfig c = model.config();
        List<Tensor> matrices = new ArrayList<>();
        for (LayerWeights l : w.layers()) {
            matrices.addAll(List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down()));
        }
        long perToken = 0;
        for (Tensor t : matrices) {
            perToken += bytes(t);
        }
        perToken += bytes(w.output());
        long params = 0;
        long size = 0;
        IdentityHashMap<Tensor, Boolean> seen = new IdentityHashMap<>();
        matrices.add(w.tokenEmbedding());
        matrices.add(w.output());
        for (Tensor t : matrices) {
            if (seen.put(t, Boolean.TRUE) == null) {
                params += (long) t.rows() * t.cols();
                size += bytes(t);
            }
        }
        long norms = (long) c.layers() * 2 * c.dim() + c.dim();
        params += norms;
        size += 4 * norms;
        return new ModelFootprint(size, params, perToken, Math.round(kvBytesPerPosition));
    }

    private static long bytes(Tensor t) {
        return t.rowBytes() * t.rows();
    }

    /** Bytes read by one decode step at {@code depth} positions already in the cache. */
    public long bytesPerToken(double depth) {
        return weightBytesPerToken + Math.round(kvBytesPerPosition * depth);
    }
}
