package dev.tern.sampling;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.TernException;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The part of JSON Schema that constrained sampling enforces, compiled from its JSON: types
 * (object, array, string, number, integer, boolean, null, and lists of them), object
 * {@code properties} with {@code required} and {@code additionalProperties} (absent means none,
 * as llama.cpp reads it), array {@code items} with {@code minItems}/{@code maxItems}, {@code enum},
 * {@code const}, {@code allOf} of one schema (as Pydantic writes annotated fields), string
 * {@code minLength}/{@code maxLength}, {@code pattern} ({@link StringPattern}'s subset of ECMA-262)
 * and the {@code format}s date, time, date-time, uuid, ipv4 and email, number and integer
 * {@code minimum}/{@code maximum} (and their exclusive forms; bounded non-integers are written
 * without exponent), {@code anyOf}/{@code oneOf} (for oneOf: values matching several alternatives
 * are not refused), and {@code $ref} into {@code $defs}/{@code definitions}. Constraints it cannot
 * enforce ({@code multipleOf}, {@code not}…) are refused rather than ignored; annotations are
 * ignored, and so are other formats, which JSON Schema makes annotations unless a validator opts in.
 */
public final class JsonSchema implements Grammar {
    /** Any JSON object: OpenAI's {@code json_object} format. */
    public static final JsonSchema ANY_OBJECT = new JsonSchema(new ObjectOf(List.of(), 0, Any.INSTANCE, false));
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> REFUSED = Set.of("multipleOf", "uniqueItems", "prefixItems",
            "contains", "minContains", "maxContains", "patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired",
            "dependentSchemas", "not", "if", "then", "else", "unevaluatedProperties", "unevaluatedItems",
            "$dynamicRef", "$recursiveRef", "contentEncoding", "contentMediaType", "contentSchema", "dependencies",
            "additionalItems");
    /** Keywords that describe without constraining, and where definitions live. */
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$comment",
            "deprecated", "readOnly", "writeOnly", "$schema", "$id", "$anchor", "$defs", "definitions");
    static final int MAX_PROPERTIES = 64;
    static final int MAX_LITERALS = 64;
    /** Alternatives read side by side from one byte: each is a cursor to carry. */
    static final int MAX_ALTERNATIVES = 16;

    final Node root;

    private JsonSchema(Node root) {
        this.root = root;
    }

    /** Compiles a schema; a schema this engine cannot enforce is a TernException naming why. */
    public static JsonSchema of(JsonNode schema) {
        Compiler c = new Compiler(schema);
        Node root = c.compile(schema, "#");
        c.link();
        return new JsonSchema(root);
    }

    /** {@link #of(JsonNode)} from text. */
    public static JsonSchema parse(String schema) {
        try {
            return of(JSON.readTree(schema));
        } catch (JsonProcessingException e) {
            throw new TernException("json schema is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** A compiled schema node: what one JSON value may be. */
    sealed interface Node {
    }

    /** Any JSON value. */
    record Any() implements Node {
        static final Any INSTANCE = new Any();
    }

    /** A property name (its bytes as written between the quotes) and its schema. */
    record Property(byte[] name, Node schema) {
    }

    /**
     * An object: declared properties (each at most once, in any order), those required (a bit per
     * property index), and the schema of others (null: none).
     */
    record ObjectOf(List<Property> properties, long required, Node additional, boolean ordered) implements Node {
    }

    record ArrayOf(Node items, int minItems, int maxItems) implements Node {
    }

    /**
     * A string of minLength to maxLength characters (code points; an escape is one), matching
     * {@code pattern} (null: any).
     */
    record StringValue(int minLength, int maxLength, StringPattern pattern) implements Node {
        static final StringValue ANY = new StringValue(0, Integer.MAX_VALUE, null);
    }

    /** A number (an integer, if so), within bounds (null: none). */
    record NumberValue(boolean integer, Bounds bounds) implements Node {
        static final NumberValue ANY = new NumberValue(false, null);
    }

    /**
     * Bounds of a number (null: none on that side; open: exclusive; an integer's are whole and
     * closed). Bounded numbers are written without exponent, so that each digit can be checked to
     * leave a number within them reachable.
     */
    record Bounds(BigDecimal lower, boolean lowerOpen, BigDecimal upper, boolean upperOpen) {
        /** Whether [a, b] (a or b null: unbounded; each end included or not) meets the bounds. */
        boolean meets(BigDecimal a, boolean aOpen, BigDecimal b, boolean bOpen) {
            return below(lower, lowerOpen, b, bOpen) && below(a, aOpen, upper, upperOpen);
        }

        /** Whether some x is both at or above lo and at or below hi (with the ends' openness). */
        private static boolean below(BigDecimal lo, boolean loOpen, BigDecimal hi, boolean hiOpen) {
            if (lo == null || hi == null) {
                return true;
            }
            int c = lo.compareTo(hi);
            return c < 0 || (c == 0 && !loOpen && !hiOpen);
        }
    }

    record BooleanValue() implements Node {
    }

    record NullValue() implements Node {
    }

    /** One of these exact values, each as its compact JSON text. */
    record Literals(List<byte[]> values) implements Node {
    }

    /** One of these alternatives. */
    static final class Union implements Node {
        final List<Node> alternatives;
        /**
         * For each byte, the alternatives (none a union or a reference) a value starting with it may
         * belong to; filled once references resolve. Several are read side by side until the bytes
         * tell them apart.
         */
        final Node[][] byFirstByte = new Node[256][];

        Union(List<Node> alternatives) {
            this.alternatives = alternatives;
        }
    }

    /** A {@code $ref}, resolved once the whole schema is compiled (schemas may be recursive). */
    static final class Ref implements Node {
        final String path;
        Node target;

        Ref(String path) {
            this.path = path;
        }
    }

    /** The node behind any chain of references. */
    static Node resolve(Node n) {
        while (n instanceof Ref r) {
            n = r.target;
        }
        return n;
    }

    /** Bytes a value of this node may start with. */
    static boolean[] firstBytes(Node n) {
        boolean[] out = new boolean[256];
        addFirstBytes(n, out, new HashSet<>());
        return out;
    }

    private static void addFirstBytes(Node n, boolean[] out, Set<Node> seen) {
        n = resolve(n);
        if (!seen.add(n)) {
            return;
        }
        switch (n) {
            case Any a -> {
                for (char c : "{[\"-0123456789tfn".toCharArray()) {
                    out[c] = true;
                }
            }
            case ObjectOf o -> out['{'] = true;
            case ArrayOf a -> out['['] = true;
            case StringValue s -> out['"'] = true;
            case NumberValue v -> {
                for (char c : "-0123456789".toCharArray()) {
                    out[c] = true;
                }
            }
            case BooleanValue b -> {
                out['t'] = true;
                out['f'] = true;
            }
            case NullValue v -> out['n'] = true;
            case Literals l -> {
                for (byte[] v : l.values()) {
                    out[v[0] & 0xFF] = true;
                }
            }
            case Union u -> {
                for (Node a : u.alternatives) {
                    addFirstBytes(a, out, seen);
                }
            }
            case Ref r -> throw new IllegalStateException("unresolved " + r.path);
        }
    }

    private static final class Compiler {
        private final JsonNode document;
        private final Map<String, Ref> refs = new HashMap<>();
        private final List<Union> unions = new ArrayList<>();

        Compiler(JsonNode document) {
            this.document = document;
        }

        Node compile(JsonNode s, String where) {
            if (s.isBoolean()) {
                if (!s.asBoolean()) {
                    throw new TernException("json schema: " + where + " is false, which no value satisfies");
                }
                return Any.INSTANCE;
            }
            if (!s.isObject()) {
                throw new TernException("json schema: " + where + " must be an object or a boolean");
            }
            for (var it = s.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (REFUSED.contains(k)) {
                    throw new TernException("json schema: '" + k + "' (at " + where + ") is not supported");
                }
            }
            if (s.has("allOf")) {
                // What Pydantic writes to describe a field of a model type: one schema, annotated.
                JsonNode all = s.get("allOf");
                if (!all.isArray() || all.size() != 1 || !onlyAnnotationsBeside(s, "allOf")) {
                    throw new TernException("json schema: 'allOf' (at " + where + ") is supported with one schema and only"
                            + " annotations beside it");
                }
                return compile(all.get(0), where + "/allOf/0");
            }
            if (s.has("$ref")) {
                if (!onlyAnnotationsBeside(s, "$ref")) {
                    throw new TernException("json schema: '$ref' (at " + where + ") with constraints beside it is not supported");
                }
                return ref(s.get("$ref").asText());
            }
            if (s.has("const")) {
                return literals(List.of(s.get("const")), where);
            }
            if (s.has("enum")) {
                JsonNode e = s.get("enum");
                if (!e.isArray() || e.isEmpty()) {
                    throw new TernException("json schema: enum at " + where + " must be a non-empty array");
                }
                List<JsonNode> values = new ArrayList<>();
                e.forEach(values::add);
                return literals(values, where);
            }
            for (String key : new String[]{"anyOf", "oneOf"}) {
                if (s.has(key)) {
                    JsonNode alts = s.get(key);
                    if (!alts.isArray() || alts.isEmpty()) {
                        throw new TernException("json schema: " + key + " at " + where + " must be a non-empty array");
                    }
                    List<Node> nodes = new ArrayList<>();
                    for (int i = 0; i < alts.size(); i++) {
                        nodes.add(compile(alts.get(i), where + "/" + key + "/" + i));
                    }
                    return union(nodes);
                }
            }
            JsonNode type = s.get("type");
            if (s.has("pattern") && (type == null || !type.toString().contains("\"string\""))) {
                throw new TernException("json schema: 'pattern' (at " + where + ") is supported on strings (type \"string\")");
            }
            if (type == null) {
                // Untyped: what its keywords imply, else anything.
                return s.has("properties") || s.has("additionalProperties") || s.has("required") ? object(s, where)
                        : s.has("items") ? array(s, where) : Any.INSTANCE;
            }
            if (type.isArray()) {
                List<Node> nodes = new ArrayList<>();
                for (JsonNode t : type) {
                    nodes.add(typed(t.asText(), s, where));
                }
                return union(nodes);
            }
            return typed(type.asText(), s, where);
        }

        private static boolean onlyAnnotationsBeside(JsonNode s, String keyword) {
            for (var it = s.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals(keyword) && !ANNOTATIONS.contains(k)) {
                    return false;
                }
            }
            return true;
        }

        private Node typed(String type, JsonNode s, String where) {
            return switch (type) {
                case "object" -> object(s, where);
                case "array" -> array(s, where);
                case "string" -> string(s, where);
                case "number" -> number(s, false, where);
                case "integer" -> number(s, true, where);
                case "boolean" -> new BooleanValue();
                case "null" -> new NullValue();
                default -> throw new TernException("json schema: unknown type '" + type + "' at " + where);
            };
        }

        private Node object(JsonNode s, String where) {
            List<Property> props = new ArrayList<>();
            Map<String, Integer> index = new HashMap<>();
            JsonNode p = s.get("properties");
            if (p != null) {
                for (var it = p.properties().iterator(); it.hasNext(); ) {
                    var e = it.next();
                    if (props.size() == MAX_PROPERTIES) {
                        throw new TernException("json schema: more than " + MAX_PROPERTIES + " properties at " + where);
                    }
                    index.put(e.getKey(), props.size());
                    props.add(new Property(nameBytes(e.getKey()), compile(e.getValue(), where + "/properties/" + e.getKey())));
                }
            }
            long required = 0;
            JsonNode r = s.get("required");
            if (r != null) {
                for (JsonNode name : r) {
                    Integer i = index.get(name.asText());
                    if (i == null) {
                        throw new TernException("json schema: required property '" + name.asText() + "' at " + where
                                + " is not among its properties");
                    }
                    required |= 1L << i;
                }
            }
            JsonNode a = s.get("additionalProperties");
            Node additional = a == null ? (p == null ? Any.INSTANCE : null)
                    : a.isBoolean() && !a.asBoolean() ? null : compile(a, where + "/additionalProperties");
            JsonNode order = s.get("propertyOrdering");
            if (order == null) {
                return new ObjectOf(List.copyOf(props), required, additional, false);
            }
            // Gemini's keyword: the properties come in this order (a streamed tool call's name before its arguments).
            List<Property> ordered = new ArrayList<>();
            long orderedRequired = 0;
            for (JsonNode name : order) {
                Integer i = index.get(name.asText());
                if (i == null || ordered.contains(props.get(i))) {
                    throw new TernException("json schema: propertyOrdering at " + where + " must name each property once");
                }
                orderedRequired |= (required >>> i & 1) << ordered.size();
                ordered.add(props.get(i));
            }
            if (ordered.size() != props.size()) {
                throw new TernException("json schema: propertyOrdering at " + where + " must name each property once");
            }
            return new ObjectOf(List.copyOf(ordered), orderedRequired, additional, true);
        }

        private static final String[] BOUNDS = {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"};

        /** The value of bound keyword k, or null when the schema has none. */
        private static BigDecimal bound(JsonNode s, String k, String where) {
            JsonNode v = s.get(k);
            if (v == null) {
                return null;
            }
            if (!v.isNumber() || Math.abs(v.asDouble()) > 1e18) {
                throw new TernException("json schema: '" + k + "' at " + where + " must be a number within ±1e18");
            }
            return v.decimalValue();
        }

        /** A number with its bounds if any (the tighter of each kind; an integer's rounded inward to whole numbers). */
        private Node number(JsonNode s, boolean integer, String where) {
            BigDecimal lower = null, upper = null;
            boolean lowerOpen = false, upperOpen = false;
            for (String k : BOUNDS) {
                BigDecimal d = bound(s, k, where);
                if (d == null) {
                    continue;
                }
                boolean open = k.startsWith("exclusive");
                if (k.endsWith("inimum")) {
                    int c = lower == null ? 1 : d.compareTo(lower);
                    if (c > 0 || (c == 0 && open)) {
                        lower = d;
                        lowerOpen = open;
                    }
                } else {
                    int c = upper == null ? -1 : d.compareTo(upper);
                    if (c < 0 || (c == 0 && open)) {
                        upper = d;
                        upperOpen = open;
                    }
                }
            }
            if (lower == null && upper == null) {
                return new NumberValue(integer, null);
            }
            if (integer) {
                lower = lower == null ? null : lowerOpen ? floor(lower).add(BigDecimal.ONE) : ceil(lower);
                upper = upper == null ? null : upperOpen ? ceil(upper).subtract(BigDecimal.ONE) : floor(upper);
                lowerOpen = upperOpen = false;
            }
            Bounds bounds = new Bounds(lower, lowerOpen, upper, upperOpen);
            if (!bounds.meets(lower, lowerOpen, upper, upperOpen)) {
                throw new TernException("json schema: the bounds at " + where + " admit no " + (integer ? "integer" : "number"));
            }
            return new NumberValue(integer, bounds);
        }

        private static BigDecimal floor(BigDecimal x) {
            return x.setScale(0, java.math.RoundingMode.FLOOR);
        }

        private static BigDecimal ceil(BigDecimal x) {
            return x.setScale(0, java.math.RoundingMode.CEILING);
        }

        private Node string(JsonNode s, String where) {
            int min = s.path("minLength").asInt(0);
            int max = s.has("maxLength") ? s.get("maxLength").asInt() : Integer.MAX_VALUE;
            if (min < 0 || max < min) {
                throw new TernException("json schema: minLength/maxLength at " + where + " admit no string");
            }
            if (s.has("pattern") && s.has("format") && StringPattern.format(s.get("format").asText()) != null) {
                throw new TernException("json schema: 'pattern' and 'format' together (at " + where + ") are not supported");
            }
            StringPattern pattern = s.has("pattern") ? StringPattern.compile(s.get("pattern").asText())
                    : s.has("format") ? StringPattern.format(s.get("format").asText()) : null;
            return new StringValue(min, max, pattern);
        }

        private Node array(JsonNode s, String where) {
            Node items = s.has("items") ? compile(s.get("items"), where + "/items") : Any.INSTANCE;
            int min = s.path("minItems").asInt(0);
            int max = s.has("maxItems") ? s.get("maxItems").asInt() : Integer.MAX_VALUE;
            if (min < 0 || max < min) {
                throw new TernException("json schema: minItems/maxItems at " + where + " admit no array");
            }
            return new ArrayOf(items, min, max);
        }

        private Node literals(List<JsonNode> values, String where) {
            if (values.size() > MAX_LITERALS) {
                throw new TernException("json schema: more than " + MAX_LITERALS + " enum values at " + where);
            }
            List<byte[]> out = new ArrayList<>();
            for (JsonNode v : values) {
                try {
                    out.add(JSON.writeValueAsBytes(v));
                } catch (JsonProcessingException e) {
                    throw new TernException("json schema: enum value at " + where + ": " + e.getOriginalMessage());
                }
            }
            return new Literals(List.copyOf(out));
        }

        private Node union(List<Node> nodes) {
            if (nodes.size() == 1) {
                return nodes.getFirst();
            }
            Union u = new Union(List.copyOf(nodes));
            unions.add(u);
            return u;
        }

        private Node ref(String path) {
            return refs.computeIfAbsent(path, Ref::new);
        }

        /** Resolves every reference, then lists each union's alternatives by their first byte. */
        void link() {
            List<Ref> pending;
            while (!(pending = refs.values().stream().filter(r -> r.target == null).toList()).isEmpty()) {
                for (Ref r : pending) {
                    r.target = compile(pointer(r.path), r.path);
                }
            }
            for (Ref r : refs.values()) {
                Set<Ref> chain = new HashSet<>();
                Node n = r;
                while (n instanceof Ref x) {
                    if (!chain.add(x)) {
                        throw new TernException("json schema: $ref " + r.path + " refers only to itself");
                    }
                    n = x.target;
                }
            }
            for (Union u : unions) {
                List<Node> flat = new ArrayList<>();
                flatten(u, flat, new HashSet<>());
                List<boolean[]> first = flat.stream().map(JsonSchema::firstBytes).toList();
                for (int b = 0; b < 256; b++) {
                    List<Node> starting = new ArrayList<>();
                    for (int i = 0; i < flat.size(); i++) {
                        if (first.get(i)[b]) {
                            starting.add(flat.get(i));
                        }
                    }
                    if (starting.size() > MAX_ALTERNATIVES) {
                        throw new TernException("json schema: more than " + MAX_ALTERNATIVES + " alternatives may start with '"
                                + (char) b + "'");
                    }
                    u.byFirstByte[b] = starting.isEmpty() ? null : starting.toArray(Node[]::new);
                }
            }
        }

        /** The alternatives of a union, with nested unions and references opened. */
        private static void flatten(Node n, List<Node> out, Set<Node> seen) {
            n = resolve(n);
            if (!seen.add(n)) {
                return;
            }
            if (n instanceof Union u) {
                for (Node a : u.alternatives) {
                    flatten(a, out, seen);
                }
            } else {
                out.add(n);
            }
        }

        private JsonNode pointer(String path) {
            if (!path.startsWith("#")) {
                throw new TernException("json schema: only local $ref (#/...) is supported, got " + path);
            }
            JsonNode n = path.equals("#") ? document : document.at(path.substring(1));
            if (n.isMissingNode()) {
                throw new TernException("json schema: $ref " + path + " points nowhere");
            }
            return n;
        }

        private static byte[] nameBytes(String name) {
            try {
                byte[] quoted = JSON.writeValueAsBytes(name);
                return Arrays.copyOfRange(quoted, 1, quoted.length - 1);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
