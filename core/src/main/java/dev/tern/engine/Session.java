package dev.tern.engine;

import dev.tern.kv.BlockTable;
import dev.tern.model.Batch;

import java.util.Arrays;

/**
 * One sequence and its KV cache, for simple callers such as the CLI: feed tokens, get the
 * logits of the last one, roll back with {@link #truncate}, make room with {@link #shift}. It
 * remembers the tokens it holds. Not thread-safe.
 */
public final class Session implements AutoCloseable {
    private final Engine engine;
    private final BlockTable sequence;
    private final int vocab;
    /** The tokens whose keys and values the cache holds, [0, sequence.length()). */
    private int[] held = new int[64];

    Session(Engine engine, BlockTable sequence) {
        this.engine = engine;
        this.sequence = sequence;
        this.vocab = engine.model().config().vocab();
    }

    /**
     * Appends {@code tokens} (one batch) and returns the logits after the last one. Throws a
     * TernException "context length N exceeded" (leaving the session unchanged) when they do not fit.
     */
    public float[] forward(int... tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("no tokens to forward");
        }
        int start = sequence.length();
        float[] logits = engine.forward(new Batch().addSequence(sequence, tokens, true));
        hold(start, tokens);
        return Arrays.copyOf(logits, vocab);
    }

    /**
     * Appends {@code tokens} and returns the logits after each of them, row i being
     * [i·vocab, (i+1)·vocab): what verifying k drafted tokens in one pass needs.
     */
    public float[] forwardAll(int... tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("no tokens to forward");
        }
        Batch batch = new Batch();
        int start = sequence.length();
        for (int i = 0; i < tokens.length; i++) {
            batch.add(tokens[i], sequence, start + i, true);
        }
        float[] rows = engine.forward(batch);
        hold(start, tokens);
        return rows;
    }

    /**
     * Makes room in a session that fills its context: drops the positions {@code shift} names and
     * computes the tokens after them again at their new places, so the session then holds what a
     * fresh one fed the shortened text would. {@code promptLength} is the prompt's length from the
     * session's start and {@code bos} the vocabulary's BOS id (negative: none). Returns the gap, empty
     * (and the session unchanged) when the shift keeps every position.
     */
    public ContextShift.Gap shift(ContextShift shift, int promptLength, int bos) {
        int length = sequence.length();
        ContextShift.Gap gap = shift.gap(held, length, promptLength, bos, contextSize());
        if (gap.count() == 0) {
            return gap;
        }
        int[] after = Arrays.copyOfRange(held, gap.from() + gap.count(), length);
        truncate(gap.from());
        if (after.length > 0) {
            forward(after);
        }
        return gap;
    }

    /** The tokens the cache holds, in order. */
    public int[] tokens() {
        return Arrays.copyOf(held, sequence.length());
    }

    /** Records that positions from {@code start} on hold {@code tokens}. */
    void hold(int start, int[] tokens) {
        if (start + tokens.length > held.length) {
            held = Arrays.copyOf(held, Math.max(start + tokens.length, 2 * held.length));
        }
        System.arraycopy(tokens, 0, held, start, tokens.length);
    }

    /**
     * Positions of a cache holding {@code held} that a run of {@code prompt} can keep: their common
     * prefix, short of the prompt's last token, which must be computed (its logits start the generation).
     */
    public static int reusable(int[] held, int[] prompt) {
        int n = Math.min(held.length, prompt.length - 1);
        int i = 0;
        while (i < n && held[i] == prompt[i]) {
            i++;
        }
        return i;
    }

    /** Positions in the cache: tokens fed so far minus those truncated. */
    public int position() {
        return sequence.length();
    }

    public int contextSize() {
        return sequence.maxLength();
    }

    /** Forgets every position from {@code newLength} on. */
    public void truncate(int newLength) {
        engine.truncate(sequence, newLength);
    }

    /** The sequence behind this session, to put into batches of the same engine. */
    public BlockTable sequence() {
        return sequence;
    }

    /** Returns the session's cache blocks to the engine. */
    @Override
    public void close() {
        engine.release(sequence);
    }
}
