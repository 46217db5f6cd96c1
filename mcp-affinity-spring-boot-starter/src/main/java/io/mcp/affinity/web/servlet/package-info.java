/**
 * The servlet (Web MVC) adapter of the request path: {@link io.mcp.affinity.web.servlet.ServletSessionAffinity} and
 * the forwarder it relays through, built on Spring Cloud Gateway's Web MVC server machinery.
 */
@NullMarked
package io.mcp.affinity.web.servlet;

import org.jspecify.annotations.NullMarked;
