package dev.tern.server;

import dev.tern.engine.Tags;

/**
 * Where a reasoning model's thinking ends and its answer begins. DeepSeek-R1, Qwen3 and QwQ write
 * their thinking between {@code <think>} and {@code </think>} before the answer; some templates
 * open the block themselves at the end of the prompt, so the answer starts inside it. The server
 * returns the thinking as {@code reasoning_content} and the rest as {@code content}, as llama.cpp
 * (its default reasoning format) and DeepSeek's API do.
 */
final class Reasoning {
    static final String OPEN = "<think>";
    static final String CLOSE = "</think>";

    private Reasoning() {
    }

    /**
     * The parts of an answer so far: thinking in [reasoningFrom, reasoningTo), answer from
     * contentFrom, or nothing of the answer yet when contentFrom is -1. Unless the answer is
     * {@code whole}, text that may still become a tag is in neither part: an opening tag being
     * written, or the start of the closing one.
     */
    record Split(int reasoningFrom, int reasoningTo, int contentFrom) {
    }

    /** Splits {@code text}; {@code inside}: the prompt opened the thinking block. */
    static Split split(CharSequence text, boolean inside, boolean whole) {
        return split(text, inside, whole, 0);
    }

    /**
     * {@link #split(CharSequence, boolean, boolean)} of a text in which no closing tag begins
     * before {@code scanned} (an earlier split's reasoningTo): a stream splits its growing answer
     * at every piece, and searching the whole thinking again each time would cost its length squared.
     */
    static Split split(CharSequence text, boolean inside, boolean whole, int scanned) {
        int n = text.length();
        int from;
        if (inside) {
            from = 0;
        } else {
            int lead = 0;
            while (lead < n && Character.isWhitespace(text.charAt(lead))) {
                lead++;
            }
            int written = Math.min(n - lead, OPEN.length());
            boolean prefix = text.subSequence(lead, lead + written).toString().equals(OPEN.substring(0, written));
            if (prefix && written == OPEN.length()) {
                from = lead + OPEN.length();
            } else if (prefix && !whole) {
                return new Split(0, 0, -1);
            } else {
                return new Split(0, 0, 0);
            }
        }
        int close = indexOf(text, CLOSE, Math.max(from, scanned - CLOSE.length() + 1));
        if (close < 0) {
            return new Split(from, whole ? n : n - Tags.partialAtEnd(text, from, CLOSE), -1);
        }
        int content = close + CLOSE.length();
        while (content < n && Character.isWhitespace(text.charAt(content))) {
            content++;
        }
        // Whitespace after the closing tag may still be followed by more; it is not the answer's.
        if (content == n && !whole) {
            return new Split(from, close, -1);
        }
        return new Split(from, close, content);
    }

    /** Whether a rendered prompt leaves the model inside a thinking block it opened. */
    static boolean opensThinking(String prompt) {
        return prompt.stripTrailing().endsWith(OPEN);
    }

    /** Whether a chat template's models think in these tags. */
    static boolean usedBy(String templateSource) {
        return templateSource != null && templateSource.contains(CLOSE);
    }

    private static int indexOf(CharSequence text, String tag, int from) {
        return text instanceof StringBuilder sb ? sb.indexOf(tag, from) : text.toString().indexOf(tag, from);
    }
}
