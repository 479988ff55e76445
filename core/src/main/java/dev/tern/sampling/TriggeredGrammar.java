package dev.tern.sampling;

/**
 * Free text until {@code trigger} is written, then a text of {@code grammar}, then free text again
 * (llama.cpp's lazy grammars): a tool call that the model chooses to make, after its opening tag,
 * is held to the call's schema, while the rest of the answer is not constrained.
 *
 * @param atStart the trigger counts only at the start of the text (after whitespace) and is the
 *                beginning of the grammar's own text: an answer that opens with it is one text of
 *                the grammar (Llama 3's calls, a bare JSON object), any other answer is free
 */
public record TriggeredGrammar(String trigger, Grammar grammar, boolean atStart) implements Grammar {
    /** A trigger anywhere in the text, not part of the grammar's text. */
    public TriggeredGrammar(String trigger, Grammar grammar) {
        this(trigger, grammar, false);
    }

    public TriggeredGrammar {
        if (trigger.isEmpty()) {
            throw new IllegalArgumentException("an empty trigger");
        }
        if (grammar instanceof TriggeredGrammar) {
            throw new IllegalArgumentException("a triggered grammar inside another");
        }
    }
}
