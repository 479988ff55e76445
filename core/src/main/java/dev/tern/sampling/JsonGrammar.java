package dev.tern.sampling;

import java.util.ArrayList;
import java.util.List;

/**
 * Recognises one JSON value of a {@link JsonSchema} byte by byte, so that a sampler can refuse
 * every token that could not continue one. Most bytes move a single {@link JsonCursor}; where
 * {@code anyOf} alternatives start alike (two object shapes, say) each gets a cursor of its own,
 * and a cursor is dropped at the first byte its alternative cannot take. Cursors are pooled, so
 * that trying a token (a {@link #copyFrom} and a few feeds) allocates nothing in the common case.
 */
final class JsonGrammar implements Recognizer {
    private final JsonSchema schema;
    private List<JsonCursor> live = new ArrayList<>();
    private List<JsonCursor> next = new ArrayList<>();
    private final List<JsonCursor> spare = new ArrayList<>();
    private final JsonCursor before;

    JsonGrammar(JsonSchema schema) {
        this.schema = schema;
        this.before = new JsonCursor(schema);
        live.add(new JsonCursor(schema));
    }

    /** Whether the bytes so far are one whole value (a number at the top may still go on). */
    @Override
    public boolean complete() {
        for (JsonCursor c : live) {
            if (c.complete()) {
                return true;
            }
        }
        return false;
    }

    /** Whether every reading is inside a string value. */
    @Override
    public boolean takesAlmostAnything() {
        for (JsonCursor c : live) {
            if (!c.inStringValue()) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void copyFrom(Recognizer other) {
        JsonGrammar o = (JsonGrammar) other;
        if (live.size() == 1 && o.live.size() == 1) {
            live.getFirst().copyFrom(o.live.getFirst());
            return;
        }
        while (live.size() > o.live.size()) {
            spare.add(live.removeLast());
        }
        while (live.size() < o.live.size()) {
            live.add(cursor());
        }
        for (int i = 0; i < live.size(); i++) {
            live.get(i).copyFrom(o.live.get(i));
        }
    }

    /** Takes one byte (0..255); false if it cannot continue the value (the state is then spent). */
    @Override
    public boolean feed(int b) {
        if (live.size() == 1 && !live.getFirst().expectsValue()) {
            // The common case, one cursor and no value starting: nothing can branch.
            return live.getFirst().feed(b);
        }
        next.clear();
        for (JsonCursor c : live) {
            if (c.expectsValue()) {
                // Only where a value starts can the byte open several alternatives: keep the state before it.
                before.copyFrom(c);
            }
            c.choice = 0;
            c.alternatives = 0;
            if (c.feed(b)) {
                next.add(c);
            } else {
                spare.add(c);
            }
            // A value began here with several alternatives: the others follow from the state before the byte.
            int n = c.alternatives;
            for (int k = 1; k < n && next.size() < JsonSchema.MAX_ALTERNATIVES; k++) {
                JsonCursor other = cursor();
                other.copyFrom(before);
                other.choice = k;
                if (other.feed(b)) {
                    next.add(other);
                } else {
                    spare.add(other);
                }
            }
        }
        List<JsonCursor> was = live;
        live = next;
        next = was;
        return !live.isEmpty();
    }

    private JsonCursor cursor() {
        return spare.isEmpty() ? new JsonCursor(schema) : spare.removeLast();
    }
}
