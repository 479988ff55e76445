package dev.tern.sampling;

import dev.tern.TernException;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pattern automaton against java.util.regex (whose syntax agrees with ECMA-262 on this subset), on random strings. */
class StringPatternTest {
    /** Patterns, each with strings it matches: they and random edits of them are compared as well as random strings. */
    private static final String[][] PATTERNS = {
            {"^[A-Z]{2}-\\d{3,4}$", "AB-123", "QZ-0000"}, {"a(b|cd)*e", "xabcde", "ae"}, {"^(ab)+$", "abab"},
            {"^x?y{2,}z*$", "yy", "xyyyzz"}, {"[^a-c]", "d"}, {"^\\w+@\\w+\\.(com|org)$", "a@b.org", "x_1@y.com"},
            {"^[a-c\\-]+$", "a-c"}, {"^(?:a|b)(?<n>c|d)?$", "ad", "b"}, {"b.c", "abxc"}, {"^\\s*\\S\\s*$", " x\t"},
            {"^[\\d.]{2}$", "1."}, {"ab", "cabd"}, {"^$", ""}, {"", "x"}, {"^a{0}b$", "b"}, {"^(a|)+$", "aa", ""},
            {"^\\x41\\u0042\\.$", "AB."}, {"^[é-ë]+ç?$", "éëç"}, {"c$", "abc"}, {"^a*?b+?$", "aab"},
            {"^\\{\\}\\[\\]\\(\\)\\*\\+\\?\\|\\^\\$\\/$", "{}[]()*+?|^$/"}};
    private static final String ALPHABET = "abcdexyzABC-@.{}[]()*+?|^$/ 0123éëç\tç";

    @Test
    void matchesAsJavaRegexOnRandomStrings() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (String[] c : PATTERNS) {
            String p = c[0];
            StringPattern ours = StringPattern.compile(p);
            Pattern reference = Pattern.compile(p);
            for (int i = 1; i < c.length; i++) {
                assertTrue(reference.matcher(c[i]).find() && matches(ours, c[i]), p + " on its example \"" + c[i] + "\"");
            }
            for (int i = 0; i < 4000; i++) {
                String s = i % 2 == 0 ? edit(c[1 + rnd.nextInt(c.length - 1)], rnd) : random(rnd);
                assertEquals(reference.matcher(s).find(), matches(ours, s), () -> p + " on \"" + s + "\"");
            }
        }
    }

    @Test
    void aCharacterNoMatchCanFollowIsRefusedAtOnce() {
        StringPattern p = StringPattern.compile("^[A-Z]{2}-\\d{3}$");
        long[] a = new long[p.words()], b = new long[p.words()];
        p.start(a);
        assertTrue(p.step(a, 'Q', b));
        assertFalse(p.step(b, '1', a), "a digit where a letter must come");
    }

    @Test
    void formatsFollowRfc3339AndTheUuidLayout() {
        String[][] cases = {
                {"date", "2024-05-17", "1999-12-31", "0000-01-01"},
                {"date", "!2024-13-01", "!2024-5-17", "!24-05-17", "!2024-05-32", "!2024-05-17T00:00:00Z"},
                {"time", "23:59:60Z", "08:30:00.123+02:00", "00:00:00z"},
                {"time", "!24:00:00Z", "!08:30Z", "!08:30:00", "!8:30:00Z"},
                {"date-time", "2024-05-17T08:30:00Z", "2024-05-17t08:30:00.5-05:30"},
                {"date-time", "!2024-05-17 08:30:00Z", "!2024-05-17T08:30:00"},
                {"uuid", "123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000"},
                {"uuid", "!123e4567e89b12d3a456426614174000", "!123e4567-e89b-12d3-a456-42661417400g"},
                {"ipv4", "192.168.0.1", "255.255.255.255", "0.0.0.0"},
                {"ipv4", "!256.1.1.1", "!1.2.3", "!01.2.3.4x"},
                {"email", "a.b@example.org"},
                {"email", "!a@b", "!a b@example.org", "!@example.org"}};
        for (String[] c : cases) {
            StringPattern p = StringPattern.format(c[0]);
            for (int i = 1; i < c.length; i++) {
                boolean valid = !c[i].startsWith("!");
                String s = valid ? c[i] : c[i].substring(1);
                assertEquals(valid, matches(p, s), c[0] + " " + s);
            }
        }
        assertEquals(null, StringPattern.format("uri"), "other formats are annotations");
    }

    @Test
    void whatItCannotEnforceIsRefusedByName() {
        for (String[] c : new String[][]{{"(?=a)b", "lookaround"}, {"(a)\\1", "escape '\\1'"}, {"\\bword", "word boundary"},
                {"a^b", "'^' inside"}, {"^a|b$", "alternation"}, {"(ab", "unclosed group"}, {"[ab", "unclosed '['"},
                {"a{3,2}", "repetition"}, {"*a", "nothing before it"}, {"(a{1000}){1000}", "states"}}) {
            TernException e = assertThrows(TernException.class, () -> StringPattern.compile(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
    }

    static boolean matches(StringPattern p, String s) {
        long[] a = new long[p.words()], b = new long[p.words()];
        p.start(a);
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (!p.step(a, c, b)) {
                return false;
            }
            long[] t = a;
            a = b;
            b = t;
        }
        return p.accepts(a);
    }

    /** One or two random insertions, deletions or replacements. */
    private static String edit(String s, SplittableRandom rnd) {
        StringBuilder b = new StringBuilder(s);
        for (int e = 1 + rnd.nextInt(2); e > 0; e--) {
            int at = rnd.nextInt(b.length() + 1);
            char c = ALPHABET.charAt(rnd.nextInt(ALPHABET.length()));
            if (at == b.length() || rnd.nextBoolean()) {
                b.insert(at, c);
            } else if (rnd.nextBoolean()) {
                b.deleteCharAt(at);
            } else {
                b.setCharAt(at, c);
            }
        }
        return b.toString();
    }

    private static String random(SplittableRandom rnd) {
        StringBuilder b = new StringBuilder();
        for (int k = rnd.nextInt(9); k > 0; k--) {
            b.append(ALPHABET.charAt(rnd.nextInt(ALPHABET.length())));
        }
        return b.toString();
    }
}
