package dev.tern.server;

import java.util.ArrayList;
import java.util.List;

/**
 * DeepSeek's tool-call syntax (DeepSeek-V3, R1 and their distills): calls between
 * {@code <｜tool▁calls▁begin｜>} and {@code <｜tool▁calls▁end｜>}, each between
 * {@code <｜tool▁call▁begin｜>} and {@code <｜tool▁call▁end｜>}, written either as R1 writes them,
 * {@code function<｜tool▁sep｜>NAME\n```json\nARGS\n```}, or as V3.1 does,
 * {@code NAME<｜tool▁sep｜>ARGS}. Both are read whatever the template writes.
 */
final class DeepSeekCalls {
    static final String CALLS_BEGIN = "<｜tool▁calls▁begin｜>";
    static final String CALL_BEGIN = "<｜tool▁call▁begin｜>";
    static final String SEP = "<｜tool▁sep｜>";
    private static final String FENCE = "```json";

    /**
     * A call as written so far: its name (null until it is whole), its arguments' JSON text so far,
     * and whether that object is closed.
     */
    record Written(String name, String arguments, boolean whole) {
    }

    private DeepSeekCalls() {
    }

    /** The text a forced call of {@code name} opens with in the prompt: the calls' and the call's tags, and its {@link #head}. */
    static String opening(String name, boolean fenced) {
        return CALLS_BEGIN + CALL_BEGIN + head(name, fenced);
    }

    /** What a call of {@code name} writes after its opening tag, before its arguments: R1's fenced form, or V3.1's. */
    static String head(String name, boolean fenced) {
        return fenced ? "function" + SEP + name + "\n" + FENCE + "\n" : name + SEP;
    }

    /** The calls from the first {@code <｜tool▁calls▁begin｜>} on (empty where there is none), in order. */
    static List<Written> calls(String text) {
        List<Written> out = new ArrayList<>();
        int at = text.indexOf(CALLS_BEGIN);
        if (at < 0) {
            return out;
        }
        String rest = text.substring(at + CALLS_BEGIN.length());
        int from = rest.indexOf(CALL_BEGIN);
        while (from >= 0) {
            int next = rest.indexOf(CALL_BEGIN, from + CALL_BEGIN.length());
            out.add(call(rest.substring(from + CALL_BEGIN.length(), next < 0 ? rest.length() : next)));
            from = next;
        }
        return out;
    }

    /** One call's text after its opening tag. */
    private static Written call(String segment) {
        int sep = segment.indexOf(SEP);
        if (sep < 0) {
            return new Written(null, "", false);
        }
        String head = segment.substring(0, sep).strip();
        String after = segment.substring(sep + SEP.length());
        String name;
        String args;
        if (head.equals("function")) {
            int line = after.indexOf('\n');
            int fence = after.indexOf(FENCE);
            if (line < 0 || fence < 0) {
                // The name may still be being written; a streamed call is named once its fence opens.
                return new Written(null, "", false);
            }
            name = after.substring(0, line).strip();
            args = after.substring(fence + FENCE.length());
        } else {
            name = head;
            args = after;
        }
        int start = 0;
        while (start < args.length() && Character.isWhitespace(args.charAt(start))) {
            start++;
        }
        if (start == args.length() || args.charAt(start) != '{') {
            return new Written(name, "", false);
        }
        int end = objectEnd(args, start);
        return new Written(name, args.substring(start, end < 0 ? args.length() : end), end >= 0);
    }

    /** The index after the brace closing the JSON object that opens at {@code start}, or -1 while it is open. */
    private static int objectEnd(String s, int start) {
        int depth = 0;
        boolean string = false;
        for (int i = start; i < s.length(); i++) {
            char c = s.charAt(i);
            if (string) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    string = false;
                }
            } else if (c == '"') {
                string = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if ((c == '}' || c == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return -1;
    }
}
