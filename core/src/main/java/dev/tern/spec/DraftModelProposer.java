package dev.tern.spec;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.Session;
import dev.tern.sampling.AdvancedSampling;
import dev.tern.sampling.DrySampling;
import dev.tern.sampling.SamplerStage;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Proposes tokens by running a small draft model autoregressively in its own session. The
 * session keeps the draft's KV cache across rounds; each round it is cut back to the longest
 * prefix it shares with the accepted history and only the new tokens are fed (one batch).
 * With a greedy configuration the draft proposes its argmax; otherwise it samples from its own
 * sampler chain and reports each distribution, as the speculative sampling rule needs. Like
 * llama.cpp's {@code --draft-p-min}, drafting stops where the draft's most likely token has less
 * than {@code minConfidence} probability: such guesses are mostly rejected and each costs a
 * draft step and a wider verify pass. The stop depends only on the draft, so the sampled output
 * keeps the target's distribution.
 */
public final class DraftModelProposer implements Proposer {
    private final Session session;
    private final Sampler sampler;
    private final SamplerConfig config;
    private final SplittableRandom rng;
    private final boolean greedy;
    private final float minConfidence;
    /** The draft model when this proposer loaded it, else null. */
    private final Tern owner;
    /** The tokens in the draft session's cache, position by position. */
    private int[] cached = new int[64];

    /**
     * @param session a fresh session of the draft model; closed with this proposer
     * @param config  the target's sampler settings (the draft uses the same chain)
     * @param seed    seed of the draft's random draws
     * @param minConfidence stop drafting below this top-token probability (0: never)
     */
    public DraftModelProposer(Session session, int vocabSize, SamplerConfig config, long seed, float minConfidence) {
        this(session, vocabSize, config, seed, minConfidence, null);
    }

    private DraftModelProposer(Session session, int vocabSize, SamplerConfig config, long seed, float minConfidence,
                               Tern owner) {
        this.owner = owner;
        this.minConfidence = minConfidence;
        this.session = session;
        this.config = config;
        // The draft guesses without DRY and infill (which read the tokens' text): the target's distribution decides.
        AdvancedSampling a = config.advanced().withDry(DrySampling.NONE);
        this.sampler = new Sampler(config.withAdvanced(a.withChain(a.minKeep(),
                a.order().stream().filter(s -> s != SamplerStage.INFILL).toList())), vocabSize);
        this.rng = new SplittableRandom(seed);
        this.greedy = config.temperature() <= 0f;
    }

    /**
     * Loads the draft model in {@code file} (with its own engine, threads and cache as
     * {@code options} say), refuses it unless its vocabulary is the target's, and returns a
     * proposer that closes the draft model when closed.
     */
    public static DraftModelProposer load(Path file, Tokenizer target, SamplerConfig config, long seed,
                                          float minConfidence, Tern.Options options) {
        Tern draft = Tern.load(file, null, options);
        try {
            requireSameVocabulary(target, draft.tokenizer(), file.toString());
            return new DraftModelProposer(draft.newSession(), target.vocabSize(), config, seed, minConfidence, draft);
        } catch (RuntimeException e) {
            draft.close();
            throw e;
        }
    }

    /** The seed of the draft's own draws for a target seeded with {@code targetSeed}: not the target's stream. */
    public static long seedFor(long targetSeed) {
        return targetSeed ^ 0x9E3779B97F4A7C15L;
    }

    /**
     * Throws a one-line TernException naming {@code draftName} unless the draft vocabulary has
     * the same size and the same token texts as the target's: only then do ids mean the same.
     */
    public static void requireSameVocabulary(Tokenizer target, Tokenizer draft, String draftName) {
        if (target.vocabSize() != draft.vocabSize()) {
            throw new TernException(draftName + ": draft vocabulary has " + draft.vocabSize()
                    + " tokens but the target's has " + target.vocabSize());
        }
        for (int i = 0; i < target.vocabSize(); i++) {
            if (!target.tokenText(i).equals(draft.tokenText(i))) {
                throw new TernException(draftName + ": draft vocabulary differs from the target's at token " + i
                        + " (" + quote(draft.tokenText(i)) + " vs " + quote(target.tokenText(i)) + ")");
            }
        }
    }

    private static String quote(String s) {
        return "'" + s.replace("\n", "\\n") + "'";
    }

    @Override
    public Proposal propose(int[] history, int length, int max) {
        // Drafting k tokens feeds the history and the first k-1 of them.
        int k = Math.min(max, session.contextSize() - length + 1);
        if (k <= 0 || length == 0) {
            return Proposal.NONE;
        }
        float[] logits = catchUp(history, length);
        resetPenaltyHistory(history, length);
        int[] tokens = new int[k];
        float[][] dists = greedy ? null : new float[k][];
        int n = 0;
        while (n < k) {
            int d;
            if (greedy) {
                d = sampler.sample(logits); // its confidence below is read from the biased logits, penalties aside
                if (topProbability(logits) < minConfidence) {
                    break;
                }
            } else {
                float[] q = sampler.probabilities(logits);
                if (max(q) < minConfidence) {
                    break;
                }
                dists[n] = q;
                d = SpeculativeSampling.draw(q, rng);
                sampler.accept(d);
            }
            tokens[n++] = d;
            if (n < k) {
                logits = feed(d);
            }
        }
        return n == k ? new Proposal(tokens, dists)
                : new Proposal(Arrays.copyOf(tokens, n), dists == null ? null : Arrays.copyOf(dists, n));
    }

    /** Softmax probability of the largest logit. */
    private static float topProbability(float[] logits) {
        float m = max(logits);
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - m);
        }
        return (float) (1 / sum);
    }

    private static float max(float[] v) {
        float m = Float.NEGATIVE_INFINITY;
        for (float x : v) {
            m = Math.max(m, x);
        }
        return m;
    }

    /** Brings the draft cache to history[0, length) and returns the logits after its last token. */
    private float[] catchUp(int[] history, int length) {
        int common = 0;
        int cachedLength = session.position();
        while (common < cachedLength && common < length && cached[common] == history[common]) {
            common++;
        }
        // The last history token must be fed again to get its logits.
        common = Math.min(common, length - 1);
        session.truncate(common);
        ensureCapacity(length);
        System.arraycopy(history, common, cached, common, length - common);
        return session.forward(Arrays.copyOfRange(history, common, length));
    }

    private float[] feed(int token) {
        int pos = session.position();
        ensureCapacity(pos + 1);
        cached[pos] = token;
        return session.forward(token);
    }

    private void ensureCapacity(int n) {
        if (n > cached.length) {
            cached = Arrays.copyOf(cached, Math.max(n, 2 * cached.length));
        }
    }

    /** The draft's penalties must see the same recent tokens as the target's. */
    private void resetPenaltyHistory(int[] history, int length) {
        if (config.repeatLastN() == 0) {
            return;
        }
        sampler.resetHistory();
        int from = config.repeatLastN() < 0 ? 0 : Math.max(0, length - config.repeatLastN());
        for (int i = from; i < length; i++) {
            sampler.accept(history[i]);
        }
    }

    @Override
    public void close() {
        session.close();
        if (owner != null) {
            owner.close();
        }
    }
}
