package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;
import dev.tern.kv.KVCacheType;
import dev.tern.model.Model;
import dev.tern.model.WorkerPool;
import dev.tern.testing.Fixtures;
import dev.tern.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * llama-perplexity's KL divergence between stories15M in F32 and llama.cpp's Q4_0 file of it: the base
 * file's layout, and the statistics against a direct double-precision computation from the two models'
 * full distributions (the file keeps log-probabilities in 16-bit steps, hence the tolerance).
 */
class KlDivergenceTest {
    private static final int CTX = 64, CHUNKS = 3;
    @TempDir
    Path dir;

    private static int[] tokens() throws IOException {
        String text = Files.readString(Fixtures.stories260K("reference/gpl3-12k.txt"));
        try (GGUFFile f = GGUFFile.open(Fixtures.stories15M("stories15M-distilled-f32.gguf"))) {
            return Arrays.copyOf(Tokenizer.fromGGUF(f).encode(text, true, false), CTX * CHUNKS + 5);
        }
    }

    @Test
    void matchesADirectComputation() throws IOException {
        int[] tokens = tokens();
        Path base = dir.resolve("base.kld");
        KlDivergence.Result r;
        double[] expected;
        try (Model f32 = Model.load(Fixtures.stories15M("stories15M-distilled-f32.gguf"));
             Model q4 = Model.load(Fixtures.stories15M("stories15M-distilled-q4_0.gguf"));
             WorkerPool pool = new WorkerPool(2)) {
            double ppl = KlDivergence.writeBase(f32, pool, tokens, CTX, base);
            assertEquals(Perplexity.perplexity(f32, pool, tokens, CTX), ppl, 1e-6 * ppl);
            int vocab = 512, rows = CTX - 1 - CTX / 2;
            assertEquals(8 + 12 + 4L * CHUNKS * CTX + 2L * CHUNKS * rows * (vocab + 4), Files.size(base));
            ByteBuffer head = ByteBuffer.wrap(Files.readAllBytes(base), 0, 20 + 8).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals("_logits_", new String(head.array(), 0, 8));
            assertEquals(CTX, head.getInt(8));
            assertEquals(vocab, head.getInt(12));
            assertEquals(CHUNKS, head.getInt(16));
            assertEquals(tokens[1], head.getInt(24));

            r = KlDivergence.compare(q4, pool, base);
            expected = direct(f32, q4, pool, tokens, vocab);
        }
        assertEquals(CHUNKS * (CTX - 1 - CTX / 2), r.positions());
        assertEquals(expected[0], r.meanKld(), 0.03 * expected[0] + 2e-5, "mean KL divergence");
        assertEquals(expected[1], r.sameTop(), 1e-9, "same top token");
        assertEquals(expected[2], r.logPplRatio(), 1e-4, "ln(PPL(Q)/PPL(base))");
        assertTrue(expected[0] > 1e-4, "Q4_0 differs from F32: " + expected[0]);
        assertEquals(r.kldPercentile(0), r.sortedKld()[0]);
        assertTrue(r.kldPercentile(0.5) <= r.kldPercentile(0.99));
    }

    /** Mean KL(base ‖ q), the fraction of equal top tokens and the mean log-likelihood difference, in double. */
    private static double[] direct(Model base, Model q, WorkerPool pool, int[] tokens, int vocab) {
        Recompute rb = new Recompute(base, pool, KVCacheType.F16), rq = new Recompute(q, pool, KVCacheType.F16);
        double kld = 0, same = 0, diff = 0;
        int n = 0;
        for (int c = 0; c < CHUNKS; c++) {
            int[] part = Arrays.copyOfRange(tokens, c * CTX, (c + 1) * CTX);
            part[0] = tokens[0];
            float[] lb = rb.logits(part, CTX / 2), lq = rq.logits(part, CTX / 2);
            for (int j = CTX / 2; j < CTX - 1; j++) {
                int off = (j - CTX / 2) * vocab;
                double[] pb = logSoftmax(lb, off, vocab), pq = logSoftmax(lq, off, vocab);
                int next = tokens[c * CTX + j + 1];
                diff += pb[next] - pq[next];
                int tb = 0, tq = 0;
                for (int i = 0; i < vocab; i++) {
                    kld += Math.exp(pb[i]) * (pb[i] - pq[i]);
                    tb = pb[i] > pb[tb] ? i : tb;
                    tq = pq[i] > pq[tq] ? i : tq;
                }
                same += tb == tq ? 1 : 0;
                n++;
            }
        }
        return new double[]{kld / n, same / n, diff / n};
    }

    private static double[] logSoftmax(float[] logits, int off, int vocab) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        double[] out = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            out[i] = logits[off + i] - max - Math.log(sum);
        }
        return out;
    }

    @Test
    void aModelAgainstItselfDivergesByRoundingOnly() throws IOException {
        int[] tokens = tokens();
        Path base = dir.resolve("self.kld");
        try (Model m = Model.load(Fixtures.stories15M("stories15M-distilled-f32.gguf")); WorkerPool pool = new WorkerPool(2)) {
            KlDivergence.writeBase(m, pool, tokens, CTX, base);
            KlDivergence.Result r = KlDivergence.compare(m, pool, base);
            assertEquals(1.0, r.sameTop());
            assertEquals(0, r.meanKld(), 5e-5, "the 16-bit steps alone");
            assertEquals(0, r.logPplRatio(), 5e-5);
        }
    }

    @Test
    void badFilesAreOneLineErrors() throws IOException {
        int[] tokens = tokens();
        Path base = dir.resolve("b.kld");
        try (Model m = Model.load(Fixtures.stories15M("stories15M-distilled-f32.gguf")); WorkerPool pool = new WorkerPool(1)) {
            assertTrue(assertThrows(TernException.class, () -> KlDivergence.compare(m, pool, dir.resolve("none")))
                    .getMessage().contains("no such file"));
            Files.writeString(base, "some text that is not a logits file");
            assertTrue(assertThrows(TernException.class, () -> KlDivergence.compare(m, pool, base))
                    .getMessage().contains("not a llama-perplexity"));
            KlDivergence.writeBase(m, pool, tokens, CTX, base);
            byte[] whole = Files.readAllBytes(base);
            Files.write(base, Arrays.copyOf(whole, whole.length - 100));
            assertTrue(assertThrows(TernException.class, () -> KlDivergence.compare(m, pool, base)).getMessage().contains("truncated"));
            ByteBuffer.wrap(whole).order(ByteOrder.LITTLE_ENDIAN).putInt(12, 32000);
            Files.write(base, whole);
            assertTrue(assertThrows(TernException.class, () -> KlDivergence.compare(m, pool, base))
                    .getMessage().contains("vocabulary of 32000"));
        }
    }
}
