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
 * sampler chain and reports each distribution, as the speculative sampling rule needs.
 * <p>
 * Drafting stops where the next guess would be used too rarely to pay for its draft step and its
 * place in the verify pass: where the chance that every guess so far is accepted, each guess's
 * chance learned from its confidence ({@link AcceptanceByConfidence}, from the history the
 * target went on to write), falls below {@code minUseChance}. Stopping at a fixed confidence
 * instead, as llama.cpp's {@code --draft-p-min} does ({@code minConfidence}, kept as a floor), took
 * stories15M-distilled with stories260K 2–5% longer per run at 0.3, its best setting (alternated in
 * one JVM, docs/PERFORMANCE.md). The stop depends only on the draft and on tokens already decided,
 * so the sampled output keeps the target's distribution.
 */
public final class DraftModelProposer implements Proposer {
    /**
     * The default {@code minUseChance}: stories15M-distilled with stories260K, alternated in one JVM,
     * ran 0.25 and 0.3 alike, 0.2 and 0.15 wider and slower.
     */
    public static final double MIN_USE_CHANCE = 0.3;
    private final Session session;
    private final Sampler sampler;
    private final SamplerConfig config;
    private final SplittableRandom rng;
    private final boolean greedy;
    private final float minConfidence;
    private final double minUseChance;
    private final AcceptanceByConfidence acceptance = new AcceptanceByConfidence();
    /**
     * The last round's guesses and their confidences, from history position {@code guessedAt} on
     * (with greedy drafting, the guess that stopped it too), to learn from once the target has
     * written those positions; {@code guessCount} of them, none when 0.
     */
    private int[] guesses = new int[0];
    private float[] confidences = new float[0];
    private int guessCount;
    private int guessedAt;
    /** history[guessedAt - 1] then: a later history that differs there (a context shift) teaches nothing. */
    private int guessedAfter;
    /** The draft model when this proposer loaded it, else null. */
    private final Tern owner;
    /** The tokens in the draft session's cache, position by position. */
    private int[] cached = new int[64];

    /**
     * @param session a fresh session of the draft model; closed with this proposer
     * @param config  the target's sampler settings (the draft uses the same chain)
     * @param seed    seed of the draft's random draws
     * @param minConfidence stop drafting below this top-token probability (0: never)
     * @param minUseChance  stop drafting where the learned chance that the next guess is used falls
     *                      below this (0: never; {@link #MIN_USE_CHANCE} is the default)
     */
    public DraftModelProposer(Session session, int vocabSize, SamplerConfig config, long seed, float minConfidence,
                              double minUseChance) {
        this(session, vocabSize, config, seed, minConfidence, minUseChance, null);
    }

    private DraftModelProposer(Session session, int vocabSize, SamplerConfig config, long seed, float minConfidence,
                               double minUseChance, Tern owner) {
        this.owner = owner;
        this.minConfidence = minConfidence;
        this.minUseChance = minUseChance;
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
            return new DraftModelProposer(draft.newSession(), target.vocabSize(), config, seed, minConfidence, MIN_USE_CHANCE,
                    draft);
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
        learn(history, length);
        float[] logits = catchUp(history, length);
        resetPenaltyHistory(history, length);
        int[] tokens = new int[k];
        float[][] dists = greedy ? null : new float[k][];
        if (confidences.length < k + 1) {
            guesses = new int[k + 1];
            confidences = new float[k + 1];
        }
        guessedAt = length;
        guessedAfter = history[length - 1];
        double used = 1;
        int n = 0;
        while (n < k) {
            int d = -1;
            float[] q = null;
            float c;
            if (greedy) {
                d = sampler.sample(logits); // its confidence below is read from the biased logits, penalties aside
                c = topProbability(logits);
                // Learnt from even when not proposed, so that a chance estimated too low can rise.
                remember(n, d, c);
            } else {
                q = sampler.probabilities(logits);
                c = max(q);
            }
            used *= acceptance.chance(c);
            if (c < minConfidence || used < minUseChance) {
                break;
            }
            if (!greedy) {
                dists[n] = q;
                d = SpeculativeSampling.draw(q, rng);
                sampler.accept(d);
                remember(n, d, c);
            }
            tokens[n++] = d;
            if (n < k) {
                logits = feed(d);
            }
        }
        return n == k ? new Proposal(tokens, dists)
                : new Proposal(Arrays.copyOf(tokens, n), dists == null ? null : Arrays.copyOf(dists, n));
    }

    /** Keeps guess n of this round, of confidence c, for {@link #learn}. */
    private void remember(int n, int token, float c) {
        guesses[n] = token;
        confidences[n] = c;
        guessCount = n + 1;
    }

    /**
     * Counts the last round's guesses that the target's tokens, now in the history, confirm or
     * refute, up to the first refuted one (the ones after it were never checked).
     */
    private void learn(int[] history, int length) {
        if (guessCount > 0 && guessedAt <= length && history[guessedAt - 1] == guessedAfter) {
            for (int j = 0; j < guessCount && guessedAt + j < length; j++) {
                boolean same = history[guessedAt + j] == guesses[j];
                acceptance.observe(confidences[j], same);
                if (!same) {
                    break;
                }
            }
        }
        guessCount = 0;
    }

    /** The learned chance that a guess of this confidence is accepted. */
    double learnedChance(float confidence) {
        return acceptance.chance(confidence);
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
