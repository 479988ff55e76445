package dev.tern.engine;

import dev.tern.kv.BlockTable;
import dev.tern.model.Batch;

import java.util.Arrays;

/**
 * One sequence and its KV cache, for simple callers such as the CLI: feed tokens, get the
 * logits of the last one, roll back with {@link #truncate}. Not thread-safe.
 */
public final class Session implements AutoCloseable {
    private final Engine engine;
    private final BlockTable sequence;
    private final int vocab;

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
        float[] logits = engine.forward(new Batch().addSequence(sequence, tokens, true));
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
        return engine.forward(batch);
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
