package dev.tern.chat;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Python semantics the real templates rely on; expected values are Python's. */
class PythonCompatTest {

    private static String render(String template) {
        return ChatTemplate.of(template, "", "").render(
                List.of(new ChatMessage("user", "  hi  "), new ChatMessage("assistant", "<think>\nr\n</think>\n\nA")), false,
                Map.of("d", Map.of("k", "v")));
    }

    @Test
    void stringMethods() {
        assertEquals("[hi]", render("[{{ messages[0].content.strip() }}]"));
        assertEquals("[  hi]", render("[{{ messages[0].content.rstrip() }}]"));
        assertEquals("[<think>\nr]", render("[{{ messages[1].content.split('</think>')[0].rstrip('\\n') }}]"));
        assertEquals("[A]", render("[{{ messages[1].content.split('</think>')[-1].lstrip('\\n') }}]"));
        assertEquals("[r]", render("[{{ '\\nr\\n'.strip('\\n') }}]"));
        assertEquals("True False", render("{{ messages[1].content.startswith('<think>') }} {{ messages[1].content.endswith('x') }}")
                .replace("true", "True").replace("false", "False"));
        assertEquals("true", render("{{ 'ab.txt'.endswith(['.md', '.txt']) }}"));
        assertEquals("HI|a-b", render("{{ 'hi'.upper() }}|{{ '-'.join(['a', 'b']) }}"));
    }

    @Test
    void stringLiteralsDecodePythonEscapes() {
        // Python jinja2: Template(source).render()
        assertEquals("a\nb|a\tb|aéb|aAb|it's|q\"q|a\\b|a\\db|A", render(
                "{{ 'a\\nb' }}|{{ 'a\\tb' }}|{{ 'a\\u00e9b' }}|{{ 'a\\x41b' }}|{{ 'it\\'s' }}|{{ \"q\\\"q\" }}|{{ 'a\\\\b' }}"
                        + "|{{ 'a\\db' }}|{{ '\\101' }}"));
        // A backslash ending a line continues the string (Mistral Small 3's template), in {% set %} too.
        assertEquals("ab|pq", render("{{ 'a\\\nb' }}|{% set x = 'p\\\nq' %}{{ x }}"));
    }

    @Test
    void pythonSplitKeepsEmptyPieces() {
        // Java's String.split would drop the trailing empties and read the separator as a regex
        assertEquals(List.of("a", "", "b", ""), PyStrings.split("a||b|", "|", -1));
        assertEquals(List.of("a", "b|c"), PyStrings.split("a|b|c", "|", 1));
        assertEquals(List.of("a", "b"), PyStrings.split("  a \n b ", null, -1));
    }

    @Test
    void slicesAsPython() {
        // Python: list(range(5))[a:b:c]
        assertEquals(List.of(1, 2, 3, 4), PySliceFilter.indices(5, 1, null, 1));
        assertEquals(List.of(4, 3, 2, 1, 0), PySliceFilter.indices(5, null, null, -1));
        assertEquals(List.of(3, 4), PySliceFilter.indices(5, -2, null, 1));
        assertEquals(List.of(0, 2, 4), PySliceFilter.indices(5, null, null, 2));
        assertEquals(List.of(), PySliceFilter.indices(5, 3, 1, 1));
        assertEquals(List.of(3, 2), PySliceFilter.indices(5, 3, 1, -1));
        assertEquals("assistant|assistant|user", render("{{ (messages[1:]|first).role }}|{{ messages[::-1][0].role }}|{{ messages[:1][0].role }}"));
        assertEquals("el|olleh", render("{{ 'hello'[1:3] }}|{{ 'hello'[::-1] }}"));
    }

    @Test
    void rewritesLeaveStringsAndListLiteralsAlone() {
        assertEquals("{{ 'a[1:2]' + x }}", TemplateSyntax.rewrite("{{ 'a[1:2]' + x }}"));
        assertEquals("{% if x in [1, 2] %}", TemplateSyntax.rewrite("{% if x in [1, 2] %}"));
        assertEquals("{{ (xs|py_slice(1, none)) }}", TemplateSyntax.rewrite("{{ xs[1:] }}"));
        assertEquals("{% set ns = namespace(a=(xs|length - 1)) %}", TemplateSyntax.rewrite("{% set ns = namespace(a=xs|length - 1) %}"));
        assertEquals("{% if not (x is defined) %}", TemplateSyntax.rewrite("{% if not x is defined %}"));
        assertEquals("text [1:2] (a=b) not x is defined", TemplateSyntax.rewrite("text [1:2] (a=b) not x is defined"));
    }

    @Test
    void namespaceKeywordValuesWithOperators() {
        assertEquals("1 true", render("{% set ns = namespace(last=messages|length - 1, flag=true) %}{{ ns.last }} {{ ns.flag }}"));
    }

    @Test
    void notBindsLooserThanIsAsInJinja2() {
        assertEquals("given", render("{% set s = 'given' %}{% if not s is defined %}{% set s = 'default' %}{% endif %}{{ s }}"));
        assertEquals("default", render("{% if not s is defined %}{% set s = 'default' %}{% endif %}{{ s }}"));
    }

    @Test
    void stringsAreIterableAndTojsonSpacesLikePython() {
        assertEquals("true", render("{{ 'abc' is iterable }}"));
        assertEquals("{\"k\": \"v\"}|[1, \"a\\\"b\", null]", render("{{ d | tojson }}|{{ [1, 'a\"b', none] | tojson }}"));
        assertEquals("[\n  1,\n  2\n]", render("{{ [1, 2] | tojson(indent=2) }}"));
    }

    @Test
    void strftimeCodes() {
        var t = java.time.ZonedDateTime.parse("2024-07-06T09:05:03Z");
        assertEquals("06 Jul 2024 | July 07 24 | 09:05:03 AM | Saturday Sat | 188 | %",
                Strftime.format(t, "%d %b %Y | %B %m %y | %H:%M:%S %p | %A %a | %j | %%"));
    }
}
