package dev.tern.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns generated tokens into text as they arrive, holding back the bytes of a UTF-8 character
 * until all of them have come (byte-fallback and byte-level tokens may split one character).
 * Control and unknown tokens (a BOS the model writes, a chat template's markers) add no text, as
 * llama.cpp renders generated tokens unless asked for its {@code --special}.
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;
    private byte[] pending = new byte[0];

    public StreamDecoder(Tokenizer t) {
        this.tokenizer = t;
    }

    /** The text completed by this token; empty while a character is still incomplete. */
    public String append(int id) {
        if (tokenizer.isControl(id)) {
            return "";
        }
        byte[] b = tokenizer.tokenBytes(id);
        byte[] all = Arrays.copyOf(pending, pending.length + b.length);
        System.arraycopy(b, 0, all, pending.length, b.length);
        int cut = completeLength(all);
        pending = Arrays.copyOfRange(all, cut, all.length);
        return new String(all, 0, cut, StandardCharsets.UTF_8);
    }

    /** Whatever is held back (an incomplete character decodes to U+FFFD). */
    public String flush() {
        String s = new String(pending, StandardCharsets.UTF_8);
        pending = new byte[0];
        return s;
    }

    /** Length of the prefix that does not end inside an unfinished multi-byte character. */
    private static int completeLength(byte[] a) {
        int n = a.length;
        for (int back = 1; back <= Math.min(4, n); back++) {
            int b = a[n - back] & 0xFF;
            if ((b & 0xC0) == 0x80) {
                continue; // continuation byte: look further back for its lead
            }
            int need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            return need > back && b >= 0xC2 && b <= 0xF4 ? n - back : n;
        }
        return n;
    }
}
