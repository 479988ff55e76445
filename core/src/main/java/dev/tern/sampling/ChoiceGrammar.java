package dev.tern.sampling;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * One of several texts, each a fixed prefix and then a text of its own grammar: a tool call
 * that names its function before its arguments ({@code name[ARGS]{…}}), where each name allows
 * only that function's arguments. No prefix may begin another, so that the bytes choose one
 * option as soon as its prefix is whole.
 */
public record ChoiceGrammar(List<Option> options) implements Grammar {
    /** A prefix and the grammar of what follows it. */
    public record Option(String prefix, Grammar grammar) {
        public Option {
            if (grammar instanceof TriggeredGrammar || grammar instanceof ChoiceGrammar) {
                throw new IllegalArgumentException("an option's grammar must be a JSON schema, a pattern or a GBNF grammar");
            }
        }
    }

    public ChoiceGrammar {
        options = List.copyOf(options);
        if (options.isEmpty()) {
            throw new IllegalArgumentException("no options");
        }
        for (Option a : options) {
            for (Option b : options) {
                byte[] x = a.prefix().getBytes(StandardCharsets.UTF_8), y = b.prefix().getBytes(StandardCharsets.UTF_8);
                if (a != b && x.length <= y.length && Arrays.equals(x, 0, x.length, y, 0, x.length)) {
                    throw new IllegalArgumentException("option prefix '" + a.prefix() + "' begins '" + b.prefix() + "'");
                }
            }
        }
    }
}
