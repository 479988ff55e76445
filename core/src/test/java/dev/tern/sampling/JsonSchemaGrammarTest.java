package dev.tern.sampling;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.tern.TernException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The schema-guided recognizer against networknt's JSON Schema validator (draft 2020-12) and
 * Jackson's strict parser, on documents generated from each schema and then mutated.
 */
class JsonSchemaGrammarTest {
    private static final ObjectMapper STRICT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);
    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
    private static final String ALPHABET = "{}[]:,\" \n0123456789-.eEtrufalsnxyz";
    private static final java.util.regex.Pattern EXPONENT = java.util.regex.Pattern.compile("[0-9.][eE]");

    /** Schemas in the engine's subset (objects with properties say whether others are allowed, as JSON Schema's default differs). */
    private static final String[] SCHEMAS = {
            """
            {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
             "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
             "required": ["name", "age"], "additionalProperties": false}""",
            """
            {"type": "object", "properties": {"kind": {"enum": ["cat", "dog", "cow"]}, "legs": {"enum": [1, 12, 123]},
             "ok": {"type": "boolean"}, "none": {"type": "null"}}, "required": ["kind"], "additionalProperties": {"type": "number"}}""",
            """
            {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "array", "items": {"type": "boolean"}}]},
             "minItems": 1, "maxItems": 4}""",
            """
            {"$defs": {"tree": {"type": "object", "properties": {"v": {"type": ["integer", "null"]},
              "kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}, "required": ["v"], "additionalProperties": false}},
             "$ref": "#/$defs/tree"}""",
            """
            {"type": "object", "properties": {"x": {"const": "fixed"}, "y": {"type": "number"}}, "required": ["x", "y"],
             "additionalProperties": false}""",
            """
            {"type": "integer"}""",
            """
            {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 2}}""",
            """
            {"type": "object", "properties": {"n": {"type": "integer", "minimum": -5, "maximum": 120},
             "m": {"type": "integer", "exclusiveMinimum": 0}, "k": {"type": "integer", "minimum": 30, "exclusiveMaximum": 35}},
             "additionalProperties": false}""",
            """
            {"type": "integer", "minimum": -20, "maximum": -3}""",
            """
            {"anyOf": [
              {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}},
               "required": ["kind", "r"], "additionalProperties": false},
              {"type": "object", "properties": {"kind": {"const": "square"}, "side": {"type": "integer", "minimum": 0}},
               "required": ["kind", "side"], "additionalProperties": false},
              {"type": "object", "properties": {"kind": {"const": "circle"}, "name": {"type": "string"}},
               "required": ["name"], "additionalProperties": false}]}""",
            """
            {"$defs": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
              "additionalProperties": false}},
             "type": "object", "properties": {"pet": {"allOf": [{"$ref": "#/$defs/Pet"}], "description": "the pet"},
              "age": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": null, "title": "Age"}},
             "required": ["pet"], "additionalProperties": false}""",
            """
            {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 9}, {"enum": [5, 12, "x"]},
              {"type": "string", "maxLength": 1}]}}""",
            """
            {"type": "object", "properties": {
              "code": {"type": "string", "pattern": "^[A-Z]{2}-\\\\d{3,4}$", "examples": ["AB-123", "XY-9876", "QQ-0000", "AB-12"]},
              "word": {"type": "string", "pattern": "a(b|cd)*e", "minLength": 3, "examples": ["xabcde", "zzaezz", "acde", "abd"]},
              "quote": {"type": ["string", "null"], "pattern": "^é\\"+$", "examples": ["é\\"", "é\\"\\"", "é\\"\\"\\"", "e\\""]}},
             "required": ["code"], "additionalProperties": false}""",
            """
            {"type": "object", "properties": {"p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
              "q": {"type": "number", "minimum": -2.5, "exclusiveMaximum": 10, "maximum": 12},
              "r": {"type": ["number", "null"], "minimum": 50}}, "additionalProperties": false}""",
    };

    /** One schema as text, as JSON, compiled, and as the validator reads it. */
    private record Case(String text, JsonNode json, JsonSchema schema, Schema validator) {
        static List<Case> all() throws Exception {
            List<Case> out = new ArrayList<>();
            for (String text : SCHEMAS) {
                JsonNode json = STRICT.readTree(text);
                out.add(new Case(text, json, JsonSchema.of(json), REGISTRY.getSchema(text)));
            }
            return out;
        }

        JsonNode instance(SplittableRandom rnd) {
            return JsonSchemaGrammarTest.instance(json, json, rnd, 0);
        }
    }

    @Test
    void acceptsExactlyWhatTheValidatorAccepts() throws Exception {
        SplittableRandom rnd = new SplittableRandom(5);
        for (Case c : Case.all()) {
            int valid = 0, total = 0;
            for (int i = 0; i < 3_000; i++) {
                JsonNode doc = c.instance(rnd);
                String written = rnd.nextBoolean() ? STRICT.writeValueAsString(doc) : STRICT.writerWithDefaultPrettyPrinter().writeValueAsString(doc);
                String candidate = i % 4 == 0 ? written : mutate(written, rnd);
                if (c.text().contains("\"number\", \"") && EXPONENT.matcher(candidate).find()) {
                    continue; // bounded non-integers are written without exponent, unlike what the validator takes
                }
                Boolean expected = reference(candidate, c.validator());
                if (expected == null) {
                    continue;
                }
                JsonGrammar g = new JsonGrammar(c.schema());
                boolean actual = g.feed(candidate.getBytes(StandardCharsets.UTF_8)) && g.complete();
                assertEquals(expected, actual, () -> c.text() + "\n" + candidate);
                valid += expected ? 1 : 0;
                total++;
            }
            assertTrue(valid > total / 20 && valid < total * 9 / 10, c.text() + ": valid " + valid + " of " + total);
        }
    }

    @Test
    void everyPrefixOfAValidDocumentIsAccepted() throws Exception {
        SplittableRandom rnd = new SplittableRandom(6);
        for (Case c : Case.all()) {
            for (int i = 0; i < 300; i++) {
                String doc = STRICT.writeValueAsString(c.instance(rnd));
                if (!Boolean.TRUE.equals(reference(doc, c.validator()))) {
                    continue;
                }
                JsonGrammar g = new JsonGrammar(c.schema());
                byte[] bytes = doc.getBytes(StandardCharsets.UTF_8);
                for (byte b : bytes) {
                    assertTrue(g.feed(b & 0xFF), () -> "refused a byte of " + doc);
                }
                assertTrue(g.complete(), doc);
            }
        }
    }

    @Test
    void aLiteralThatCouldGoOnEndsAtTheNextByte() {
        JsonSchema numbers = JsonSchema.parse("{\"enum\": [1, 12, 123]}");
        JsonGrammar g = new JsonGrammar(numbers);
        assertTrue(g.feed('1') && g.complete(), "1 is whole");
        assertTrue(g.feed('2') && g.complete(), "12 is whole");
        assertFalse(g.feed('4'), "124 is not a value");
        JsonSchema inArray = JsonSchema.parse("{\"type\": \"array\", \"items\": {\"enum\": [1, 12]}}");
        JsonGrammar a = new JsonGrammar(inArray);
        assertTrue(a.feed("[1,12,1]".getBytes(StandardCharsets.UTF_8)) && a.complete());
    }

    @Test
    void deadEndsAreRefusedAtTheirFirstByte() {
        // The sampler must never be led where no valid document continues: refuse as early as that is known.
        JsonSchema s = JsonSchema.parse("""
                {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
                 "required": ["name"], "additionalProperties": false}""");
        for (String[] c : new String[][]{{"{\"nx", "a key no property starts with"}, {"{\"n\":1.", "an integer's fraction"},
                {"{\"n\":1,\"n\"", "a repeated property"}, {"{\"n\":1}", "a missing required property"},
                {"{\"name\":\"a\",\"n\":2,", "a comma with no property left"}, {"{\"name\":\"a\"}x", "bytes after the value"}}) {
            JsonGrammar g = new JsonGrammar(s);
            byte[] b = c[0].getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < b.length - 1; i++) {
                assertTrue(g.feed(b[i] & 0xFF), c[1] + ": refused too early at " + i);
            }
            assertFalse(g.feed(b[b.length - 1] & 0xFF), c[1]);
        }
        JsonGrammar percent = new JsonGrammar(JsonSchema.parse("{\"type\": \"integer\", \"minimum\": 0, \"maximum\": 100}"));
        assertTrue(percent.feed('1') && percent.feed('0'), "10 may become 100");
        assertFalse(percent.feed('1'), "101 is over and only grows");
        JsonGrammar positive = new JsonGrammar(JsonSchema.parse("{\"type\": \"integer\", \"minimum\": 1}"));
        assertFalse(positive.feed('-'), "no negative number is at least 1");
        String[][] decimals = {
                // schema bounds, a prefix every byte of which may come, and the byte that may not
                {"\"exclusiveMinimum\": 0, \"maximum\": 1", "0.00", "-"}, {"\"exclusiveMinimum\": 0, \"maximum\": 1", "1.0", "1"},
                {"\"exclusiveMinimum\": 0, \"maximum\": 1", "1", "0"}, {"\"exclusiveMinimum\": 0, \"maximum\": 1", "0.5", "e"},
                {"\"minimum\": -2.5, \"exclusiveMaximum\": 10", "-2.5", "1"}, {"\"minimum\": -2.5, \"exclusiveMaximum\": 10", "", "-3"},
                {"\"minimum\": -2.5, \"exclusiveMaximum\": 10", "-2.", "6"}, {"\"minimum\": 50", "", "-"},
                {"\"minimum\": 50", "4", "."}, {"\"exclusiveMinimum\": 0, \"maximum\": 1", "0.0", "}"}, {"\"exclusiveMaximum\": 10", "1", "0"}};
        for (String[] c : decimals) {
            JsonGrammar g = new JsonGrammar(JsonSchema.parse("{\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"number\", "
                    + c[0] + "}}}"));
            String prefix = "{\"x\":" + c[1], refused = c[2];
            assertTrue(g.feed(prefix.getBytes(StandardCharsets.UTF_8)), c[0] + ": " + prefix);
            byte[] last = refused.getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < last.length - 1; i++) {
                assertTrue(g.feed(last[i] & 0xFF), c[0] + ": " + prefix + refused + " refused too early");
            }
            assertFalse(g.feed(last[last.length - 1] & 0xFF), c[0] + ": " + prefix + refused);
        }
        JsonSchema ordered = JsonSchema.parse("{\"type\": \"object\", \"properties\": {\"args\": {\"type\": \"object\"}, "
                + "\"name\": {\"type\": \"string\"}, \"note\": {\"type\": \"string\"}}, \"required\": [\"name\", \"args\"], "
                + "\"propertyOrdering\": [\"name\", \"args\", \"note\"], \"additionalProperties\": false}");
        JsonGrammar inOrder = new JsonGrammar(ordered);
        assertTrue(inOrder.feed("{\"name\":\"x\",\"args\":{},\"note\":\"y\"}".getBytes(StandardCharsets.UTF_8)) && inOrder.complete());
        for (String[] c : new String[][]{{"{\"a", "a later property first"}, {"{\"name\":\"x\",\"n", "a property the required one before it skips"},
                {"{\"name\":\"x\",\"args\":{},\"note\":\"y\",", "a comma with none left in order"}}) {
            JsonGrammar g = new JsonGrammar(ordered);
            byte[] b = c[0].getBytes(StandardCharsets.UTF_8);
            assertTrue(g.feed(Arrays.copyOf(b, b.length - 1)), c[1]);
            assertFalse(g.feed(b[b.length - 1] & 0xFF), c[1]);
        }
        assertThrows(TernException.class, () -> JsonSchema.parse("{\"properties\": {\"a\": {}}, \"propertyOrdering\": [\"a\", \"b\"]}"));
        JsonGrammar tuple = new JsonGrammar(JsonSchema.parse("{\"type\": \"array\", \"minItems\": 2, \"maxItems\": 2}"));
        assertTrue(tuple.feed("[1".getBytes(StandardCharsets.UTF_8)));
        assertFalse(tuple.feed(']'), "one item of two");
    }

    @Test
    void unsupportedOrUnsatisfiableSchemasAreRefusedByName() {
        for (String[] c : new String[][]{
                {"{\"type\": \"string\", \"pattern\": \"(?=a)\"}", "lookaround"},
                {"{\"pattern\": \"^a\"}", "supported on strings"},
                {"{\"type\": \"string\", \"pattern\": \"^a\", \"format\": \"date\"}", "'pattern' and 'format' together"},
                {"{\"type\": \"string\", \"minLength\": 3, \"maxLength\": 2}", "minLength"},
                {"{\"type\": \"number\", \"minimum\": 2, \"exclusiveMaximum\": 2}", "admit no number"},
                {"{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 4.5}", "admit no integer"},
                {"{\"anyOf\": [" + String.join(",", IntStream.range(0, 17)
                        .mapToObj(i -> "{\"type\": \"object\", \"properties\": {\"p" + i + "\": {}}}").toList()) + "]}",
                        "more than 16 alternatives"},
                {"{\"$ref\": \"#/$defs/missing\"}", "points nowhere"},
                {"{\"type\": \"object\", \"properties\": {\"a\": true}, \"required\": [\"b\"]}", "'b'"},
                {"{\"type\": \"wat\"}", "unknown type"},
                {"{\"$ref\": \"#\"}", "only to itself"},
                {"{\"allOf\": [{\"type\": \"integer\"}, {\"minimum\": 1}]}", "'allOf'"},
                {"{\"$defs\": {\"a\": {\"type\": \"integer\"}}, \"$ref\": \"#/$defs/a\", \"maximum\": 3}", "'$ref'"},
                {"{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}", "minItems"}}) {
            TernException e = assertThrows(TernException.class, () -> JsonSchema.parse(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
    }

    /** Whether the text is one JSON document valid for the schema with llama.cpp's whitespace; null to skip it. */
    private static Boolean reference(String text, Schema validator) {
        if (text.isEmpty() || Character.isWhitespace(text.charAt(text.length() - 1)) || !JsonGrammarTest.gapsAllowed(text)) {
            return false;
        }
        JsonNode node;
        try {
            node = STRICT.readTree(text);
        } catch (Exception e) {
            // Repeated keys are refused by the recognizer only among declared properties: leave them out.
            return e.getMessage() != null && e.getMessage().contains("Duplicate field") ? null : false;
        }
        if (node == null || !validator.validate(node).isEmpty()) {
            return false;
        }
        // JSON Schema counts 2.0 as an integer; the recognizer, as llama.cpp's grammars, wants integers written as such.
        return containsIntegralFloat(node) ? null : true;
    }

    private static boolean containsIntegralFloat(JsonNode n) {
        if (n.isFloatingPointNumber() || n.isBigDecimal()) {
            return n.asDouble() == Math.rint(n.asDouble());
        }
        for (JsonNode c : n) {
            if (containsIntegralFloat(c)) {
                return true;
            }
        }
        return false;
    }

    /**
     * A random value mostly of the schema's shape, now and then breaking it (a missing required
     * property, an extra one, one item too many or too few, a value of another type): the
     * validator decides what is valid.
     */
    private static JsonNode instance(JsonNode s, JsonNode root, SplittableRandom rnd, int depth) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (rnd.nextInt(12) == 0) {
            JsonNode[] other = {f.textNode("z"), f.numberNode(7), f.numberNode(2.5), f.booleanNode(true), f.nullNode(),
                    f.objectNode(), f.arrayNode().add(1), f.objectNode().put("v", 1)};
            return other[rnd.nextInt(other.length)];
        }
        if (s.has("$ref")) {
            String ref = s.get("$ref").asText();
            return instance(ref.equals("#") ? root : root.at(ref.substring(1)), root, rnd, depth + 1);
        }
        if (s.has("const")) {
            return s.get("const");
        }
        if (s.has("enum")) {
            return s.get("enum").get(rnd.nextInt(s.get("enum").size()));
        }
        if (s.has("allOf")) {
            return instance(s.get("allOf").get(0), root, rnd, depth);
        }
        if (s.has("anyOf")) {
            return instance(s.get("anyOf").get(rnd.nextInt(s.get("anyOf").size())), root, rnd, depth);
        }
        JsonNode type = s.get("type");
        String t = type == null ? "null" : type.isArray() ? type.get(rnd.nextInt(type.size())).asText() : type.asText();
        if (s.has("properties") && type == null) {
            t = "object";
        }
        switch (t) {
            case "object" -> {
                ObjectNode o = f.objectNode();
                JsonNode props = s.path("properties");
                for (var it = props.properties().iterator(); it.hasNext(); ) {
                    var e = it.next();
                    boolean required = false;
                    for (JsonNode r : s.path("required")) {
                        required |= r.asText().equals(e.getKey());
                    }
                    if (required ? rnd.nextInt(8) > 0 : rnd.nextInt(3) > 0) {
                        o.set(e.getKey(), instance(e.getValue(), root, rnd, depth + 1));
                    }
                }
                JsonNode extra = s.get("additionalProperties");
                if (rnd.nextInt(4) == 0) {
                    o.set("extra" + rnd.nextInt(3), instance(extra == null ? f.objectNode() : extra, root, rnd, depth + 1));
                }
                return o;
            }
            case "array" -> {
                ArrayNode a = f.arrayNode();
                int min = Math.max(0, s.path("minItems").asInt(0) - 1);
                int n = depth > 3 ? 0 : rnd.nextInt(min, Math.min(s.path("maxItems").asInt(4), 4) + 2);
                for (int i = 0; i < n; i++) {
                    a.add(instance(s.path("items"), root, rnd, depth + 1));
                }
                return a;
            }
            case "string" -> {
                if (s.has("examples") && rnd.nextInt(4) > 0) {
                    return s.get("examples").get(rnd.nextInt(s.get("examples").size()));
                }
                return f.textNode(List.of("", "a", "b c", "é", "x\"y").get(rnd.nextInt(5)));
            }
            case "integer" -> {
                // Around the bounds when there are some, so that both sides of each are tried.
                int lo = s.has("minimum") ? s.get("minimum").asInt() : s.has("exclusiveMinimum") ? s.get("exclusiveMinimum").asInt() : -50;
                int hi = s.has("maximum") ? s.get("maximum").asInt() : s.has("exclusiveMaximum") ? s.get("exclusiveMaximum").asInt() : 500;
                return f.numberNode(rnd.nextInt(lo - 3, hi + 4));
            }
            case "number" -> {
                if (s.has("minimum") || s.has("exclusiveMinimum") || s.has("maximum") || s.has("exclusiveMaximum")) {
                    // Around the bounds, with a few decimals, so that both sides of each are tried.
                    double lo = s.has("minimum") ? s.get("minimum").asDouble() : s.path("exclusiveMinimum").asDouble(-5);
                    double hi = s.has("exclusiveMaximum") ? s.get("exclusiveMaximum").asDouble() : s.path("maximum").asDouble(lo + 20);
                    double x = rnd.nextInt(4) == 0 ? (rnd.nextBoolean() ? lo : hi) : rnd.nextDouble(lo - 2, hi + 2);
                    return f.numberNode(new java.math.BigDecimal(String.format(java.util.Locale.ROOT, "%." + rnd.nextInt(4) + "f", x)));
                }
                return rnd.nextBoolean() ? f.numberNode(rnd.nextInt(-9, 99)) : f.numberNode(rnd.nextDouble() * 100 - 20);
            }
            case "boolean" -> {
                return f.booleanNode(rnd.nextBoolean());
            }
            default -> {
                return f.nullNode();
            }
        }
    }

    private static String mutate(String text, SplittableRandom rnd) {
        StringBuilder b = new StringBuilder(text);
        for (int e = 1 + rnd.nextInt(2); e > 0; e--) {
            int at = rnd.nextInt(b.length() + 1);
            char c = ALPHABET.charAt(rnd.nextInt(ALPHABET.length()));
            int op = rnd.nextInt(3);
            if (op == 0 || at == b.length()) {
                b.insert(at, c);
            } else if (op == 1) {
                b.deleteCharAt(at);
            } else {
                b.setCharAt(at, c);
            }
        }
        return b.toString();
    }
}
