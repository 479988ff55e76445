package dev.tern.sampling;

/**
 * The shape an output must have, for {@link GrammarConstraint}: one JSON value of a
 * {@link JsonSchema}, a text a {@link TextPattern} matches whole, or a text of a
 * {@link GbnfGrammar}'s root rule; one of several prefixes, each followed by a text of its own
 * grammar ({@link ChoiceGrammar}); or free text with one of those after a trigger ({@link TriggeredGrammar}).
 */
public sealed interface Grammar permits JsonSchema, TextPattern, GbnfGrammar, ChoiceGrammar, TriggeredGrammar {
}
