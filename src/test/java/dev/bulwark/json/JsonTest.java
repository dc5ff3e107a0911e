package dev.bulwark.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void roundTripsValuesExactly() {
        String text = "{\"a\":[1,-2.5,18446744073709551615,true,false,null],\"b\":\"x\\\"y\\\\z\\n\\u00e9\\u0001\",\"c\":{}}";
        JsonValue v = Json.parse(text);
        assertEquals("{\"a\":[1,-2.5,18446744073709551615,true,false,null],\"b\":\"x\\\"y\\\\z\\né\\u0001\",\"c\":{}}",
                Json.write(v));
        assertEquals(v, Json.parse(Json.writePretty(v)));
    }

    @Test
    void errorsNameLineAndColumn() {
        JsonException e = assertThrows(JsonException.class, () -> Json.parse("{\n  \"a\": tru\n}"));
        assertEquals("line 2, column 8: invalid literal", e.getMessage());
        assertTrue(assertThrows(JsonException.class, () -> Json.parse("{\"a\":1,\"a\":2}")).getMessage()
                .contains("duplicate member \"a\""));
        assertTrue(assertThrows(JsonException.class, () -> Json.parse("[1] x")).getMessage().contains("after the JSON value"));
        assertTrue(assertThrows(JsonException.class, () -> Json.parse("[01]")).getMessage().contains("expected ',' or ']'"));
        assertTrue(assertThrows(JsonException.class, () -> Json.parse("\"a\tb\"")).getMessage().contains("control character"));
        assertTrue(assertThrows(JsonException.class, () -> Json.parse("[".repeat(300))).getMessage().contains("nesting deeper"));
    }
}
