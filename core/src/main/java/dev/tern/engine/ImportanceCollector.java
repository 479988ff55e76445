package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.gguf.ImportanceMatrix;
import dev.tern.kv.KVCacheType;
import dev.tern.model.ForwardPass;
import dev.tern.model.Model;
import dev.tern.model.WorkerPool;
import dev.tern.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * llama-imatrix: calibration text runs through the model in chunks exactly as {@link Perplexity} runs it,
 * and at every product of a layer's weight matrix (and of the output matrix when asked) each input
 * column's square and value are added up over the tokens, in float and token order as llama.cpp does.
 * llama-quantize then weighs each column's quantization error by its mean square.
 */
public final class ImportanceCollector implements ForwardPass.InputObserver {
    /** llama-imatrix skips products of fewer tokens (single-token decode steps). */
    private static final int MIN_TOKENS = 16;

    private final boolean processOutput;
    private final Map<String, Sums> sums = new TreeMap<>();

    private static final class Sums {
        final float[] squares, values;
        float count;

        Sums(int cols) {
            squares = new float[cols];
            values = new float[cols];
        }
    }

    /** The matrix and the perplexity measured on the same passes (llama-imatrix prints both). */
    public record Result(ImportanceMatrix matrix, double perplexity, int chunks) {
    }

    private ImportanceCollector(boolean processOutput) {
        this.processOutput = processOutput;
    }

    /**
     * Collects over at most {@code maxChunks} chunks of {@code ctx} tokens of {@code tokens} (BOS first; at
     * least two chunks, as llama-imatrix requires); {@code dataset} names the text in the file.
     */
    public static Result collect(Model model, WorkerPool workers, int[] tokens, int ctx, int maxChunks,
                                 boolean processOutput, String dataset) {
        if (ctx < MIN_TOKENS) {
            throw new TernException("an importance matrix needs chunks of at least " + MIN_TOKENS + " tokens, got " + ctx);
        }
        if (maxChunks < 1) {
            throw new TernException("--chunks must be at least 1");
        }
        if (!model.weights().layers()[0].wq().name().startsWith("blk.")) {
            throw new TernException("the model's weights have no llama.cpp names (blk.N.*): an importance matrix needs a GGUF model");
        }
        ImportanceCollector collector = new ImportanceCollector(processOutput);
        Recompute runner = new Recompute(model, workers, KVCacheType.F16);
        runner.observeInputs(collector);
        // the output matrix sees every token only when all of a chunk's logits are computed
        double ppl = Perplexity.perplexity(runner, model.config().vocab(), tokens, ctx, maxChunks, processOutput ? 0 : ctx / 2);
        int chunks = Math.min(maxChunks, tokens.length / ctx);
        return new Result(collector.matrix(List.of(dataset), chunks, ctx), ppl, chunks);
    }

    @Override
    public void inputs(Tensor weight, float[] in, int inOff, int tokens) {
        String name = weight.name();
        if (tokens < MIN_TOKENS || !(name.startsWith("blk.") || processOutput && name.equals("output.weight"))) {
            return;
        }
        int cols = weight.cols();
        Sums s = sums.computeIfAbsent(name, n -> new Sums(cols));
        for (int t = 0; t < tokens; t++) {
            int row = inOff + t * cols;
            for (int j = 0; j < cols; j++) {
                float x = in[row + j];
                s.values[j] += x;
                s.squares[j] += x * x;
            }
        }
        s.count += tokens;
    }

    private ImportanceMatrix matrix(List<String> datasets, int chunks, int ctx) {
        Map<String, ImportanceMatrix.Entry> entries = new TreeMap<>();
        sums.forEach((name, s) -> entries.put(name, new ImportanceMatrix.Entry(s.squares, s.values, new float[]{s.count})));
        return new ImportanceMatrix(entries, datasets, chunks, ctx);
    }
}
