package dev.tern.server;

import java.util.ArrayList;
import java.util.List;

/**
 * The tool calls in an answer still being written, for streaming them as they come: each call
 * object's name once its string is closed, and the raw text of its arguments so far. Call
 * objects are the JSON objects at one depth of the answer (0: bare objects, between tags or
 * separators; 1: items of a top-level array; 2: items of the generic form's
 * {@code "tool_calls"} array); anything outside JSON at depth 0 (tags, text) is skipped.
 */
final class PartialCalls {
    /** One call: name null until its string is whole; arguments the raw text so far ("" before it starts). */
    record Call(String name, String arguments) {
    }

    private PartialCalls() {
    }

    /** The calls of {@code text} whose objects open at {@code callDepth}, arguments under {@code argumentsKey} (or "arguments"). */
    static List<Call> scan(String text, int callDepth, String argumentsKey) {
        List<Call> calls = new ArrayList<>();
        int depth = 0;
        String name = null, key = null;
        int argsStart = -1, argsEnd = -1;
        boolean inCall = false, expectKey = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (depth == 0 && c != '{' && c != '[') {
                continue; // text or tags between calls
            }
            if (c == '"') {
                int end = stringEnd(text, i);
                if (inCall && depth == callDepth + 1) {
                    String s = end < 0 ? null : unquote(text.substring(i + 1, end));
                    if (expectKey) {
                        key = s;
                    } else if ("name".equals(key) && s != null) {
                        name = s;
                    }
                }
                if (end < 0) {
                    break;
                }
                i = end;
                continue;
            }
            if (c == '{' || c == '[') {
                if (c == '{' && depth == callDepth && !inCall) {
                    inCall = true;
                    name = null;
                    key = null;
                    argsStart = -1;
                    argsEnd = -1;
                }
                if (inCall && depth == callDepth + 1 && isArguments(key, argumentsKey) && argsStart < 0) {
                    argsStart = i;
                }
                depth++;
                expectKey = c == '{';
            } else if (c == '}' || c == ']') {
                depth--;
                if (inCall && depth == callDepth + 1 && argsStart >= 0 && argsEnd < 0) {
                    argsEnd = i + 1;
                }
                if (inCall && depth == callDepth) {
                    calls.add(call(text, name, argsStart, argsEnd));
                    inCall = false;
                }
                expectKey = false;
            } else if (c == ':') {
                expectKey = false;
            } else if (c == ',') {
                expectKey = depth > 0 && inCall && depth == callDepth + 1;
            }
        }
        if (inCall) {
            calls.add(call(text, name, argsStart, argsEnd));
        }
        return calls;
    }

    private static Call call(String text, String name, int argsStart, int argsEnd) {
        return new Call(name, argsStart < 0 ? "" : argsEnd < 0 ? text.substring(argsStart) : text.substring(argsStart, argsEnd));
    }

    private static boolean isArguments(String key, String argumentsKey) {
        return key != null && (key.equals(argumentsKey) || key.equals("arguments"));
    }

    /** Index of the quote closing the string opening at i, or -1 if it is not closed yet. */
    private static int stringEnd(String t, int i) {
        for (int j = i + 1; j < t.length(); j++) {
            char c = t.charAt(j);
            if (c == '\\') {
                j++;
            } else if (c == '"') {
                return j;
            }
        }
        return -1;
    }

    /** A JSON string's content with its escapes read (enough for names and keys). */
    private static String unquote(String s) {
        return s.indexOf('\\') < 0 ? s : Json.parseOrText("\"" + s + "\"").asText(s);
    }
}
