package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.model.WorkerPool;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * llama-perplexity's KL divergence, how far a (quantized) model's next-token distributions are from a
 * base model's over the same chunks: {@link #writeBase} runs the base model and stores, for every scored
 * position, its log-probabilities in llama.cpp's {@code --kl-divergence-base} file form (llama.cpp reads
 * Tern's files and Tern reads llama.cpp's: docs/PERFORMANCE.md); {@link #compare} runs another model over the file's tokens and sums
 * KL(base ‖ model), the log ratio of the two perplexities and how often the two agree on the top token.
 */
public final class KlDivergence {
    private static final byte[] MAGIC = "_logits_".getBytes(StandardCharsets.US_ASCII);
    /** Log-probabilities this far below the top one are stored as the floor and left out of the sum. */
    private static final float FLOOR = 16f;

    private KlDivergence() {
    }

    /** The statistics llama-perplexity --kl-divergence prints. */
    public record Result(int chunks, long positions, double perplexity, double logPplRatio, double logPplRatioError,
                         double meanKld, double meanKldError, float[] sortedKld, double sameTop) {
        /** llama-perplexity's percentile: linear between the two nearest sorted values. */
        public double kldPercentile(double fraction) {
            if (fraction <= 0) {
                return sortedKld[0];
            }
            if (fraction >= 1) {
                return sortedKld[sortedKld.length - 1];
            }
            double p = fraction * (sortedKld.length - 1);
            int ip = (int) p;
            p -= ip;
            return (1 - p) * sortedKld[ip] + p * sortedKld[Math.min(ip + 1, sortedKld.length - 1)];
        }

        public double sameTopError() {
            return Math.sqrt(sameTop * (1 - sameTop) / (positions - 1));
        }
    }

    /** u16 values per stored row: the row's scale and floor as two floats, then one per token, padded to even. */
    private static int rowShorts(int vocab) {
        return 2 * ((vocab + 1) / 2) + 4;
    }

    /**
     * Runs {@code model} over {@code tokens} (BOS first) in chunks of ctx as llama-perplexity does and writes
     * the base file to {@code out}; returns the perplexity.
     */
    public static double writeBase(Model model, WorkerPool workers, int[] tokens, int ctx, Path out) {
        Perplexity.requireChunks(tokens, ctx);
        int vocab = model.config().vocab();
        int chunks = tokens.length / ctx;
        Recompute runner = new Recompute(model, workers, KVCacheType.F16);
        double[] nll = new double[1];
        try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(out), 1 << 16)) {
            ByteBuffer head = ByteBuffer.allocate(MAGIC.length + 12 + 4 * chunks * ctx).order(ByteOrder.LITTLE_ENDIAN);
            head.put(MAGIC).putInt(ctx).putInt(vocab).putInt(chunks);
            for (int i = 0; i < chunks * ctx; i++) {
                head.putInt(tokens[i]);
            }
            o.write(head.array());
            ByteBuffer row = ByteBuffer.allocate(2 * rowShorts(vocab)).order(ByteOrder.LITTLE_ENDIAN);
            IOException[] failure = new IOException[1];
            long count = Perplexity.forEachScored(runner, vocab, tokens, ctx, Integer.MAX_VALUE, ctx / 2, (logits, off, next) -> {
                nll[0] += encode(logits, off, vocab, next, row.clear());
                try {
                    o.write(row.array());
                } catch (IOException e) {
                    failure[0] = e;
                }
            });
            if (failure[0] != null) {
                throw failure[0];
            }
            return Math.exp(nll[0] / count);
        } catch (IOException e) {
            throw new TernException(out + ": cannot write (" + e.getMessage() + ")");
        }
    }

    /**
     * llama-perplexity's log_softmax into a base row: the logits above max − 16 as 16-bit steps between that
     * floor and the top, the scale and the floor's log-probability first. Returns the next token's −log p.
     */
    private static double encode(float[] logits, int off, int vocab, int next, ByteBuffer row) {
        float max = logits[off], min = logits[off];
        for (int i = 1; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
            min = Math.min(min, logits[off + i]);
        }
        min = Math.max(min, max - FLOOR);
        float logSumExp = (float) Math.log(Perplexity.sumExp(logits, off, vocab, max));
        float minLogProb = min - max - logSumExp;
        float scale = (max - min) / 65535f;
        row.putFloat(scale).putFloat(minLogProb);
        float inv = 1 / scale;
        for (int i = 0; i < vocab; i++) {
            float l = logits[off + i];
            row.putShort((short) (scale != 0 && l > min ? nearestInt(inv * (l - min)) : 0));
        }
        return max + logSumExp - logits[off + next];
    }

    /** ggml's nearest_int: round half to even through the float mantissa. */
    private static int nearestInt(float v) {
        return (Float.floatToRawIntBits(v + 12582912f) & 0x007fffff) - 0x00400000;
    }

    /** Runs {@code model} over a base file's tokens and chunks and compares its distributions with the file's. */
    public static Result compare(Model model, WorkerPool workers, Path base) {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(open(base), 1 << 16))) {
            byte[] magic = new byte[MAGIC.length];
            in.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new TernException(base + ": not a llama-perplexity --kl-divergence-base file");
            }
            ByteBuffer head = ByteBuffer.wrap(in.readNBytes(12)).order(ByteOrder.LITTLE_ENDIAN);
            int ctx = head.getInt(), vocab = head.getInt(), chunks = head.getInt();
            if (vocab != model.config().vocab()) {
                throw new TernException(base + ": made with a vocabulary of " + vocab + " tokens, the model has " + model.config().vocab());
            }
            if (ctx < 3 || chunks < 1 || (long) ctx * chunks > 1 << 28) {
                throw new TernException(base + ": a corrupt header (" + chunks + " chunks of " + ctx + ")");
            }
            ByteBuffer t = ByteBuffer.wrap(in.readNBytes(4 * ctx * chunks)).order(ByteOrder.LITTLE_ENDIAN);
            if (t.remaining() != 4 * ctx * chunks) {
                throw new TernException(base + ": truncated");
            }
            int[] tokens = new int[ctx * chunks];
            t.asIntBuffer().get(tokens);
            Comparison c = new Comparison(in, vocab, ctx, chunks, base);
            Recompute runner = new Recompute(model, workers, KVCacheType.F16);
            Perplexity.forEachScored(runner, vocab, tokens, ctx, chunks, ctx / 2, c::score);
            if (c.failure != null) {
                throw c.failure;
            }
            return c.result(chunks);
        } catch (IOException e) {
            throw new TernException(base + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private static InputStream open(Path base) throws IOException {
        try {
            return Files.newInputStream(base);
        } catch (NoSuchFileException e) {
            throw new TernException(base + ": no such file");
        }
    }

    /** The running sums of llama-perplexity's kl_divergence_result, fed one position at a time. */
    private static final class Comparison {
        final DataInputStream in;
        final int vocab;
        final Path base;
        final ByteBuffer row;
        final float[] kld;
        double sumNll, sumNllDiff, sumNllDiff2, sumKld, sumKld2;
        long sameTop;
        int count;
        TernException failure;

        Comparison(DataInputStream in, int vocab, int ctx, int chunks, Path base) {
            this.in = in;
            this.vocab = vocab;
            this.base = base;
            this.row = ByteBuffer.allocate(2 * rowShorts(vocab)).order(ByteOrder.LITTLE_ENDIAN);
            this.kld = new float[(ctx - 1 - ctx / 2) * chunks];
        }

        void score(float[] logits, int off, int next) {
            if (failure != null) {
                return;
            }
            try {
                in.readFully(row.array());
            } catch (EOFException e) {
                failure = new TernException(base + ": truncated");
                return;
            } catch (IOException e) {
                failure = new TernException(base + ": cannot read (" + e.getMessage() + ")");
                return;
            }
            row.clear();
            float scale = row.getFloat(), minLogProb = row.getFloat();
            float max = logits[off];
            int top = 0;
            for (int i = 1; i < vocab; i++) {
                if (logits[off + i] > max) {
                    max = logits[off + i];
                    top = i;
                }
            }
            float logSumExp = (float) Math.log(Perplexity.sumExp(logits, off, vocab, max));
            float nll = max + logSumExp - logits[off + next];
            sumNll += nll;
            nll += scale * (row.getShort(8 + 2 * next) & 0xffff) + minLogProb;
            sumNllDiff += nll;
            sumNllDiff2 += nll * nll;
            float norm = max + logSumExp;
            double sum = 0;
            int baseTop = -1;
            float baseTopLogProb = 0;
            for (int i = 0; i < vocab; i++) {
                float logProbBase = scale * (row.getShort(8 + 2 * i) & 0xffff) + minLogProb;
                if (i == 0 || logProbBase > baseTopLogProb) {
                    baseTopLogProb = logProbBase;
                    baseTop = i;
                }
                if (logProbBase > -FLOOR) {
                    sum += (float) Math.exp(logProbBase) * (logProbBase - logits[off + i] + norm);
                }
            }
            sumKld += sum;
            sumKld2 += sum * sum;
            kld[count++] = (float) sum;
            if (top == baseTop) {
                sameTop++;
            }
        }

        Result result(int chunks) {
            float[] sorted = Arrays.copyOf(kld, count);
            Arrays.sort(sorted);
            double[] ratio = meanAndError(sumNllDiff, sumNllDiff2, count);
            double[] div = meanAndError(sumKld, sumKld2, count);
            return new Result(chunks, count, Math.exp(sumNll / count), ratio[0], ratio[1], div[0], div[1], sorted,
                    (double) sameTop / count);
        }

        /** llama-perplexity's mean_and_uncertainty. */
        private static double[] meanAndError(double sum, double sum2, long count) {
            double f = sum / count;
            double df = sum2 / count - f * f;
            return new double[]{f, df > 0 && count > 10 ? Math.sqrt(df / (count - 1)) : 0};
        }
    }
}
