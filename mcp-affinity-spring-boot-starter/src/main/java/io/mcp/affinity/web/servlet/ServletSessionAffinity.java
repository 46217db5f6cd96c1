package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.web.HandlerErrorBodies;
import io.mcp.affinity.web.JsonRpcErrors;
import io.mcp.affinity.web.McpHttpHeaders;
import io.mcp.affinity.web.SessionRouting;
import io.mcp.affinity.web.SessionRouting.Forward;
import io.mcp.affinity.web.SessionRouting.Local;
import io.mcp.affinity.web.SessionRouting.Owned;
import io.mcp.affinity.web.SessionRouting.Refused;
import io.mcp.affinity.web.SessionRouting.Route;
import io.mcp.affinity.web.SessionRouting.SessionNotClaimedException;
import io.mcp.affinity.web.servlet.AbortableRequestFactory.Abort;
import jakarta.servlet.FilterChain;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.http.converter.HttpMessageConverter;
import org.springframework.http.server.ServletServerHttpRequest;
import org.springframework.web.filter.ServerHttpObservationFilter;
import org.springframework.web.servlet.function.EntityResponse;
import org.springframework.web.servlet.function.HandlerFilterFunction;
import org.springframework.web.servlet.function.HandlerFunction;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.RouterFunctions;
import org.springframework.web.servlet.function.ServerRequest;
import org.springframework.web.servlet.function.ServerResponse;
import org.springframework.web.util.UriComponentsBuilder;
import org.springframework.web.util.pattern.PathPattern;
import reactor.core.publisher.Mono;

/**
 * Session affinity for a Web MVC (servlet) MCP router: every request that carries a session reaches the instance that
 * owns it. The servlet adapter of {@link SessionRouting}, which decides what to do with each request; this class
 * reads the request, calls the local handler, and relays a forward through {@link ServletOwnerForwarder}.
 * <p>
 * A request body the local handler takes is read here first, through the size limit and the body timeout: the MCP
 * transports read a message whole anyway, and a refusal is then answered as such (413, 408) instead of as the
 * handler's 400 or 500. A body forwarded to the owner streams there as it arrives, through the same limits.
 * <p>
 * Apply it with {@link #applyTo(RouterFunction)} or {@code router.filter(sessionAffinity)}; the starter applies it to
 * the router Spring AI's Web MVC MCP server registers.
 */
public final class ServletSessionAffinity implements HandlerFilterFunction<ServerResponse, ServerResponse> {

	// Set on a request once filtered, so a router wrapped twice (by hand and by the starter) is filtered once.
	private static final String FILTERED_ATTRIBUTE = ServletSessionAffinity.class.getName() + ".filtered";

	// The route decided before the application's filters ran, for the router filter to finish.
	private static final String DECIDED_ATTRIBUTE = ServletSessionAffinity.class.getName() + ".decided";

	// Enough for any MCP router (Spring AI's have one to three paths); past it, nothing more is remembered.
	private static final int MAX_ENDPOINTS = 32;

	// The methods and paths this router has served, with the pattern each matched: requests for them are forwarded
	// before the application's filters, and observed under that pattern as the router would have.
	private final Map<String, String> endpoints = new ConcurrentHashMap<>();

	// The router's message converters, once it has served a request: a forward made before it writes with them.
	private volatile @Nullable List<HttpMessageConverter<?>> messageConverters;

	private final SessionRouting routing;

	private final ServletOwnerForwarder forwarder;

	/**
	 * Creates the filter.
	 * @param routing decides what to do with each request
	 * @param forwarder forwards requests to other instances
	 */
	public ServletSessionAffinity(SessionRouting routing, ServletOwnerForwarder forwarder) {
		this.routing = Objects.requireNonNull(routing, "routing must not be null");
		this.forwarder = Objects.requireNonNull(forwarder, "forwarder must not be null");
	}

	/**
	 * Returns the router with session affinity applied (the same as {@code router.filter(sessionAffinity)}).
	 * @param router the MCP router
	 * @return the filtered router
	 */
	public RouterFunction<ServerResponse> applyTo(RouterFunction<ServerResponse> router) {
		return router.filter(this);
	}

	@Override
	public ServerResponse filter(ServerRequest request, HandlerFunction<ServerResponse> next) throws Exception {
		HttpServletRequest servletRequest = request.servletRequest();
		if (servletRequest.getAttribute(FILTERED_ATTRIBUTE) != null) {
			return next.handle(request);
		}
		servletRequest.setAttribute(FILTERED_ATTRIBUTE, Boolean.TRUE);
		Object decided = servletRequest.getAttribute(DECIDED_ATTRIBUTE);
		Route route;
		if (decided instanceof Owned owned) {
			route = Objects.requireNonNull(this.routing.admit(owned, principal(request)).block());
		}
		else if (decided instanceof Route early) {
			route = early;
		}
		else {
			// Not decided before the filters: its endpoint may not be known there yet (a decided one is).
			remember(request);
			SessionRouting.Request read = new SessionRouting.Request(request.method(), servletRequest::getHeader,
					sessionParameter(servletRequest), servletRequest.getContentLengthLong(), request::uri,
					principal(request));
			route = Objects.requireNonNull(this.routing.route(read).block());
		}
		if (route instanceof Refused refused) {
			return response(refused.answer());
		}
		try {
			if (route instanceof Forward forward) {
				return forward(servletRequest, request.messageConverters(), forward);
			}
			Local local = (route instanceof Local owned) ? owned : null;
			ServerRequest withBody = withBodyRead(request, local);
			return (local != null) ? handleOwned(withBody, next, local.sessionId())
					: handleSessionless(withBody, next);
		}
		catch (Exception ex) {
			JsonRpcErrors refused = this.routing.bodyRefused(ex);
			if (refused == null) {
				throw ex;
			}
			return response(refused);
		}
	}

	/**
	 * Forwards a request for a session another instance owns before the application's own servlet filters and the
	 * dispatcher servlet run (the owner runs them on the forwarded request, security included: {@code Authorization}
	 * travels end to end); every other request continues down the filter chain, with what was decided for it kept for
	 * the router filter. Only requests for a method and path the MCP router has served are looked at: the first request
	 * of each takes the router's path.
	 * @param request the request, as the container passed it to the first filters
	 * @param response the response
	 * @param chain the application's filters, then the dispatcher servlet
	 * @throws Exception when the chain fails, or a forward fails in a way no answer is defined for
	 */
	public void forwardBeforeFilters(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
			throws Exception {
		List<HttpMessageConverter<?>> converters = this.messageConverters;
		String pattern = (converters != null && !HttpMethod.HEAD.matches(request.getMethod()))
				? this.endpoints.get(endpoint(request.getMethod(), pathWithinApplication(request))) : null;
		String header = (pattern != null) ? request.getHeader(McpHttpHeaders.SESSION_ID) : null;
		String parameter = (pattern != null) ? sessionParameter(request) : null;
		if (header == null && parameter == null) {
			chain.doFilter(request, response);
			return;
		}
		SessionRouting.Request read = new SessionRouting.Request(HttpMethod.valueOf(request.getMethod()),
				request::getHeader, parameter, request.getContentLengthLong(),
				() -> new ServletServerHttpRequest(request).getURI(), Mono.empty());
		Route route = Objects.requireNonNull(this.routing.decide(read).block());
		if (route instanceof Forward forward) {
			ServerHttpObservationFilter.findObservationContext(request)
				.ifPresent((observation) -> observation.setPathPattern(pattern));
			ServerResponse forwarded = forward(request, converters, forward);
			forwarded.writeTo(request, response, () -> converters);
			return;
		}
		request.setAttribute(DECIDED_ATTRIBUTE, route);
		chain.doFilter(request, response);
	}

	private void remember(ServerRequest request) {
		if (this.messageConverters == null) {
			this.messageConverters = request.messageConverters();
		}
		if (this.endpoints.size() < MAX_ENDPOINTS) {
			Object matched = request.attributes().get(RouterFunctions.MATCHING_PATTERN_ATTRIBUTE);
			String pattern = (matched instanceof PathPattern pathPattern) ? pathPattern.getPatternString()
					: request.path();
			HttpServletRequest servletRequest = request.servletRequest();
			this.endpoints.putIfAbsent(endpoint(servletRequest.getMethod(), pathWithinApplication(servletRequest)),
					pattern);
		}
	}

	private static String endpoint(String method, String path) {
		return method + " " + path;
	}

	// The raw path after the context path, as the container has it before any filter: the same in the first filter
	// and in the router.
	private static String pathWithinApplication(HttpServletRequest request) {
		return request.getRequestURI().substring(request.getContextPath().length());
	}

	// The request with its body read through the limits (when it has one), and, for a session owned here, naming the
	// session as the transport knows it.
	private ServerRequest withBodyRead(ServerRequest request, @Nullable Local local) throws IOException {
		HttpServletRequest servletRequest = request.servletRequest();
		String transportId = null;
		if (local != null && !local.transportId().equals(local.sessionId())) {
			transportId = local.transportId().value();
		}
		if (transportId == null && request.method() == HttpMethod.GET) {
			return request;
		}
		byte[] body = (request.method() == HttpMethod.GET) ? new byte[0]
				: GuardedRequestBody.readAll(servletRequest.getInputStream(), this.routing.getMaxBodySize());
		return ServerRequest.create(RewrittenServletRequest.read(servletRequest, body, transportId),
				request.messageConverters());
	}

	private ServerResponse handleSessionless(ServerRequest request, HandlerFunction<ServerResponse> next)
			throws Exception {
		ServerResponse response = withJsonRpcErrorBody(next.handle(request));
		String created = response.headers().getFirst(McpHttpHeaders.SESSION_ID);
		Mono<Principal> principal = principal(request);
		if (created != null) {
			// The id reaches the client only once the cluster can route it; otherwise the client is asked to retry.
			try {
				String announced = Objects.requireNonNull(this.routing.establish(created, principal).block());
				return announced.equals(created) ? response
						: new ResponseWritingThrough(response,
								(servletRequest, servletResponse) -> announcing(servletResponse, announced));
			}
			catch (SessionNotClaimedException ex) {
				return response(JsonRpcErrors.STORE_UNAVAILABLE);
			}
		}
		if (request.method() == HttpMethod.GET) {
			// Legacy HTTP+SSE: the session id is only in the stream's first event (looked at only if it is a stream).
			UnaryOperator<String> claim = (id) -> Objects.requireNonNull(this.routing.establish(id, principal).block());
			return new ResponseWritingThrough(response,
					(servletRequest, servletResponse) -> new LegacyEndpointClaimingServletResponse(servletRequest,
							servletResponse, claim));
		}
		return response;
	}

	// The response that created a session, written unchanged except for the Mcp-Session-Id it announces: the id the
	// client must use instead of the transport's own.
	private static HttpServletResponse announcing(HttpServletResponse response, String announced) {
		return new HttpServletResponseWrapper(response) {

			@Override
			public void setHeader(String name, String value) {
				super.setHeader(name, McpHttpHeaders.SESSION_ID.equalsIgnoreCase(name) ? announced : value);
			}

			@Override
			public void addHeader(String name, String value) {
				super.addHeader(name, McpHttpHeaders.SESSION_ID.equalsIgnoreCase(name) ? announced : value);
			}

		};
	}

	private ServerResponse handleOwned(ServerRequest request, HandlerFunction<ServerResponse> next,
			SessionId sessionId) throws Exception {
		ServerResponse response = withJsonRpcErrorBody(next.handle(request));
		if (request.method() == HttpMethod.DELETE && response.statusCode().is2xxSuccessful()) {
			this.routing.ended(sessionId).block();
		}
		return response;
	}

	// The MCP handler's error answer with an exception, plain text or nothing as body, as a JSON-RPC error
	// (HandlerErrorBodies).
	private static ServerResponse withJsonRpcErrorBody(ServerResponse response) {
		if (!response.statusCode().isError()) {
			return response;
		}
		if (!(response instanceof EntityResponse<?> answer)) {
			return new BodilessServletErrorAnswer(response);
		}
		byte[] body = HandlerErrorBodies.replacing(response.statusCode().value(), response.headers().getContentType(),
				answer.entity());
		if (body == null) {
			return response;
		}
		return ServerResponse.status(response.statusCode()).headers((headers) -> {
			headers.addAll(response.headers());
			headers.remove(HttpHeaders.CONTENT_LENGTH);
			headers.setContentType(MediaType.APPLICATION_JSON);
		}).cookies((cookies) -> cookies.addAll(response.cookies())).body(body);
	}

	// One ServerRequest per forward (each one parses the request's path and reads its parameters).
	private ServerResponse forward(HttpServletRequest request, List<HttpMessageConverter<?>> converters,
			Forward forward) throws IOException {
		if (HttpMethod.GET.matches(request.getMethod())) {
			// A GET's stream may send no headers before its first event (Spring AI's transports hold them until then,
			// which without keep-alive pings may be minutes): it waits for them on a relay thread, not a container one.
			ServerRequest get = ServerRequest.create(request, converters);
			return this.forwarder.inBackground((abort) -> forward(get, forward, abort));
		}
		ServerRequest guarded = ServerRequest.create(RewrittenServletRequest.guarded(request, bodyLimit(request)),
				converters);
		return forward(guarded, forward, new Abort());
	}

	// The owner's answer, or the affinity layer's when the forward fails before it.
	private ServerResponse forward(ServerRequest request, Forward forward, Abort abort) {
		long start = System.nanoTime();
		try {
			ServerResponse response = this.forwarder.forward(request, forward.sessionId(), forward.owner(),
					() -> this.routing.forwardBroken(start), abort);
			this.routing.forwardAnswered(forward, start);
			return response;
		}
		catch (Exception ex) {
			JsonRpcErrors answer = this.routing
				.forwardFailed(forward, ServletOwnerForwarder.failure(ex), ex, start)
				.block();
			return response((answer != null) ? answer : JsonRpcErrors.FORWARD_FAILED);
		}
	}

	// A declared length was checked by the routing; a body of undeclared length (chunked) is counted as it streams.
	private long bodyLimit(HttpServletRequest request) {
		return (request.getContentLengthLong() >= 0) ? Long.MAX_VALUE : this.routing.getMaxBodySize();
	}

	private static Mono<Principal> principal(ServerRequest request) {
		return Mono.justOrEmpty(request.principal());
	}

	/** An answer of the affinity layer, as a response. */
	static ServerResponse response(JsonRpcErrors answer) {
		return ServerResponse.status(answer.status()).headers((headers) -> headers.addAll(answer.headers()))
			.body(answer.body());
	}

	/** An answer of the affinity layer, written straight to a response not yet committed. */
	static void write(JsonRpcErrors answer, HttpServletResponse response) throws IOException {
		response.setStatus(answer.status().value());
		answer.headers().forEach((name, values) -> values.forEach((value) -> response.addHeader(name, value)));
		byte[] body = answer.body();
		response.setContentLength(body.length);
		response.getOutputStream().write(body);
		response.flushBuffer();
	}

	// The legacy transport's session parameter, from the query string only: asking the container for a parameter
	// would read a form body.
	private static @Nullable String sessionParameter(HttpServletRequest request) {
		String query = request.getQueryString();
		if (query == null || !query.contains(McpHttpHeaders.LEGACY_SESSION_PARAMETER)) {
			return null;
		}
		String value = UriComponentsBuilder.newInstance()
			.query(query)
			.build()
			.getQueryParams()
			.getFirst(McpHttpHeaders.LEGACY_SESSION_PARAMETER);
		return (value != null) ? URLDecoder.decode(value, StandardCharsets.UTF_8) : null;
	}

}
