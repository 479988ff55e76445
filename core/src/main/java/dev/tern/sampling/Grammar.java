package dev.tern.sampling;

/**
 * The shape an output must have, for {@link GrammarConstraint}: one JSON value of a
 * {@link JsonSchema}, or a text a {@link TextPattern} matches whole.
 */
public sealed interface Grammar permits JsonSchema, TextPattern {
}
