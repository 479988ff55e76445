package dev.tern.engine;

import dev.tern.tokenizer.StreamDecoder;

import java.util.List;

/**
 * A generation's text with stop strings: releases text only once it can no longer become part
 * of a stop string, and cuts the text before the first stop string found. Without stop strings
 * every piece is released as it comes.
 */
public final class StopText {
    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private String matched;

    public StopText(List<String> stops) {
        this.stops = stops;
    }

    /** Adds generated text; returns the text that may be released now. */
    public String append(String piece) {
        text.append(piece);
        int cut = -1;
        for (String s : stops) {
            int at = text.indexOf(s, released);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
                matched = s;
            }
        }
        if (cut >= 0) {
            return release(cut);
        }
        return release(text.length() - heldBack());
    }

    /** Whether a stop string has appeared. */
    public boolean stopped() {
        return matched != null;
    }

    /** The stop string that appeared first in the text, or null. */
    String matched() {
        return matched;
    }

    /** At the end without a stop string: everything still held back. */
    String finish() {
        return stopped() ? "" : release(text.length());
    }

    /**
     * At the end of a generation: the decoder's incomplete last character and everything held
     * back, unless a stop string has ended the text (the character may complete one).
     */
    public String finish(StreamDecoder decoder) {
        return stopped() ? "" : append(decoder.flush()) + finish();
    }

    /** Length of the longest unreleased suffix that begins some stop string. */
    private int heldBack() {
        int best = 0;
        for (String s : stops) {
            best = Math.max(best, Tags.partialAtEnd(text, released, s));
        }
        return best;
    }

    private String release(int end) {
        String out = text.substring(released, end);
        released = end;
        return out;
    }
}
