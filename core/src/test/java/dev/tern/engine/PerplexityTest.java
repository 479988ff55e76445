package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.model.Model;
import dev.tern.model.ModelConfig;
import dev.tern.model.ModelWeights;
import dev.tern.model.NaiveTransformer;
import dev.tern.model.RopeStyle;
import dev.tern.model.TinyModel;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PerplexityTest {

    /** With an all-zero classifier every token is equally likely: perplexity is the vocabulary size. */
    @Test
    void uniformPredictionsGiveTheVocabularySize() {
        ModelConfig c = TinyModel.config(16, 32, 1, 2, 2, 37, RopeStyle.NORMAL, 8, 1f);
        ModelWeights w = TinyModel.random(c, 1, false).weights();
        Model zero = new Model(c, new ModelWeights(w.tokenEmbedding(), w.layers(), w.outputNorm(),
                TinyModel.f32("output", new float[c.vocab() * c.dim()], c.vocab(), c.dim()), null));
        assertEquals(37.0, Perplexity.perplexity(zero, CachedVsRecomputeTest.random(50, 37, 1), 8), 1e-9);
    }

    /**
     * llama-perplexity's procedure written out by hand over the naive transformer: 2 whole
     * chunks of 8 (the 7-token tail dropped), BOS first in each, scoring positions 4..6.
     */
    @Test
    void scoresTheSecondHalfOfEachChunkWithBosFirst() {
        ModelConfig c = TinyModel.config(16, 32, 1, 2, 1, 23, RopeStyle.NORMAL, 8, 1f);
        Model model = TinyModel.random(c, 9, false);
        NaiveTransformer naive = new NaiveTransformer(model);
        int[] tokens = CachedVsRecomputeTest.random(23, c.vocab(), 3);
        tokens[0] = 1;
        double nll = 0;
        int count = 0;
        for (int start = 0; start + 8 <= tokens.length; start += 8) {
            int[] chunk = Arrays.copyOfRange(tokens, start, start + 8);
            chunk[0] = 1;
            for (int j = 4; j <= 6; j++) {
                float[] logits = naive.lastLogits(Arrays.copyOf(chunk, j + 1));
                double sum = 0;
                for (float l : logits) {
                    sum += Math.exp(l);
                }
                nll -= logits[chunk[j + 1]] - Math.log(sum);
                count++;
            }
        }
        assertEquals(6, count);
        double expected = Math.exp(nll / count);
        assertEquals(expected, Perplexity.perplexity(model, tokens, 8), 1e-3 * expected);
    }

    @Test
    void tooFewTokensIsAOneLineError() {
        ModelConfig c = TinyModel.config(16, 32, 1, 2, 1, 23, RopeStyle.NORMAL, 8, 1f);
        TernException e = assertThrows(TernException.class,
                () -> Perplexity.perplexity(TinyModel.random(c, 1, false), new int[15], 8));
        assertEquals("the text must have at least 16 tokens (two chunks of the context of 8), it has 15", e.getMessage());
    }

}
