package dev.tern.tokenizer;

/** Test strings whose decode(encode(s)) != s in llama.cpp too, and why. */
final class RoundTripExceptions {
    private RoundTripExceptions() {
    }

    static boolean expected(String vocab, String s) {
        return false;
    }
}
