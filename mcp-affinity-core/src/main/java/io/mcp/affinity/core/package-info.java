/**
 * Which live instance holds an MCP session: session ids, instance identity, the ownership store SPI and the
 * resolver that turns a session id into a routing decision. Free of Spring Boot and of any web stack.
 */
@NullMarked
package io.mcp.affinity.core;

import org.jspecify.annotations.NullMarked;
