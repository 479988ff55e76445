package dev.tern.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits special tokens out of text before the model-specific tokenizer sees it, as llama.cpp's
 * tokenizer_st_partition does: longest special text first; control and unknown tokens only when
 * parseSpecial; user-defined tokens always; LSTRIP/RSTRIP drop ASCII whitespace beside a match.
 */
final class SpecialSplitter {
    /** Either a token id (text == null) or raw text. */
    record Fragment(int token, String text) {
    }

    private SpecialSplitter() {
    }

    static List<Fragment> split(Vocabulary v, String text, boolean parseSpecial) {
        List<Fragment> frags = new ArrayList<>();
        if (text.isEmpty()) {
            return frags;
        }
        frags.add(new Fragment(-1, text));
        for (int id : v.specialsByLength) {
            if (!parseSpecial && v.has(id, TokenAttr.CONTROL | TokenAttr.UNKNOWN)) {
                continue;
            }
            String special = v.text[id];
            if (special.isEmpty()) {
                continue;
            }
            List<Fragment> next = new ArrayList<>(frags.size() + 2);
            for (Fragment f : frags) {
                if (f.text == null || !f.text.contains(special)) {
                    next.add(f);
                } else {
                    splitOne(f.text, special, id, v.attr[id], next);
                }
            }
            frags = next;
        }
        return frags;
    }

    private static void splitOne(String s, String special, int id, int attr, List<Fragment> out) {
        int start = 0;
        int end = s.length();
        while (start < end) {
            int match = s.indexOf(special, start);
            if (match < 0) {
                out.add(new Fragment(-1, s.substring(start, end)));
                return;
            }
            int leftEnd = match;
            if ((attr & TokenAttr.LSTRIP) != 0) {
                while (leftEnd > start && isSpace(s.charAt(leftEnd - 1))) {
                    leftEnd--;
                }
            }
            if (leftEnd > start) {
                out.add(new Fragment(-1, s.substring(start, leftEnd)));
            }
            out.add(new Fragment(id, null));
            start = match + special.length();
            if ((attr & TokenAttr.RSTRIP) != 0) {
                while (start < end && isSpace(s.charAt(start))) {
                    start++;
                }
            }
        }
    }

    /** C isspace in the "C" locale, which llama.cpp uses for the strip rules. */
    private static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }
}
