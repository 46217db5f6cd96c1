/**
 * The request path: a router filter that lets the local MCP handler take a request for a session this instance owns,
 * forwards it to the owning instance, or answers the client so it re-initializes.
 */
@NullMarked
package io.mcp.affinity.web;

import org.jspecify.annotations.NullMarked;
