package dev.tern.sampling;

/**
 * Free text until {@code trigger} is written, then a text of {@code grammar}, then free text again
 * (llama.cpp's lazy grammars): a tool call that the model chooses to make, after its opening tag,
 * is held to the call's schema, while the rest of the answer is not constrained.
 */
public record TriggeredGrammar(String trigger, Grammar grammar) implements Grammar {
    public TriggeredGrammar {
        if (trigger.isEmpty()) {
            throw new IllegalArgumentException("an empty trigger");
        }
        if (grammar instanceof TriggeredGrammar) {
            throw new IllegalArgumentException("a triggered grammar inside another");
        }
    }
}
