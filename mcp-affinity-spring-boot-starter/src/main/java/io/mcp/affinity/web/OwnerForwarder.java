package io.mcp.affinity.web;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.SessionId;
import io.micrometer.observation.Observation;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.HttpHeaderNames;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import org.springframework.cloud.gateway.filter.headers.HttpHeadersFilter;
import org.springframework.cloud.gateway.support.ServerWebExchangeUtils;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.NettyDataBufferFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.NettyOutbound;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.HttpClientResponse;
import reactor.netty.http.client.PrematureCloseException;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * Forwards an exchange to the instance that owns its session, on pooled Reactor Netty clients the gateway's
 * {@code HttpClientFactory} builds from its {@code httpclient} properties, one on each event loop of the server
 * ({@link EventLoopClients}). Nothing is buffered: the request body streams to the owner as it arrives, each part
 * passed on as the buffer it came in, and an SSE (or NDJSON) response streams back event by event, flushed as it
 * comes; an answer that had all arrived with its headers leaves in one write ({@link ArrivedBody}). When the client
 * goes away, the upstream connection is closed.
 * <p>
 * The gateway's own routing and response-writing filters did the same through a synthetic route and exchange
 * attributes, copying the headers into Spring's {@code HttpHeaders} and again into Netty's each way; here the relay is
 * written against Reactor Netty directly, one pass over the headers each way (docs/benchmarks.md has the profile and
 * the figures). With a tracer, the gateway's observation header filters still open the forward's client span and
 * propagate the trace.
 * <p>
 * Two entries: an exchange (a forward made by a web filter or the router filter, whose response the application's
 * filters may have decorated), or Reactor Netty's own request and response (a forward made before Spring's web
 * handler, which writes straight to the connection).
 */
public final class OwnerForwarder {

	// The exchange attribute by which the gateway's observation filters mark the forward's observation stopped.
	private static final String OBSERVATION_STOPPED = "gateway.observation.stopped";

	// Media types relayed with a flush per part: the gateway's streaming types, and NDJSON.
	private static final List<MediaType> STREAMING_TYPES = List.of(MediaType.TEXT_EVENT_STREAM,
			MediaType.APPLICATION_NDJSON, MediaType.valueOf("application/stream+json"),
			MediaType.valueOf("application/grpc"), MediaType.valueOf("application/grpc+protobuf"),
			MediaType.valueOf("application/grpc+json"));

	private final EventLoopClients clients;

	private final ForwardedHeaderRules headerRules;

	private final List<HttpHeadersFilter> requestObservers;

	private final List<HttpHeadersFilter> responseObservers;

	private final String selfEpoch;

	private final Duration responseTimeout;

	private @Nullable ForwardSignature signature;

	/**
	 * Creates a forwarder.
	 * @param clients gives a client to the owners with a connection pool of its own at each call (one is made per
	 * event loop of the server), e.g. built by the gateway's {@code HttpClientFactory} from its {@code httpclient}
	 * properties
	 * @param observationFilters the gateway's observation header filters (request and response), applied to every
	 * forward; empty when there is no tracer to continue
	 * @param trustedProxies regular expression of the client addresses trusted to set {@code X-Forwarded-*}
	 * @param self this instance: forwarded requests are marked with its epoch
	 * @param connectTimeout how long to wait for a connection to the owner
	 * @param responseTimeout how long to wait for the owner's response headers (not for a streamed body)
	 */
	public OwnerForwarder(Supplier<HttpClient> clients, List<HttpHeadersFilter> observationFilters,
			String trustedProxies, InstanceIdentity self, Duration connectTimeout, Duration responseTimeout) {
		int connectMillis = Math.toIntExact(connectTimeout.toMillis());
		this.clients = new EventLoopClients(
				() -> clients.get().option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectMillis));
		this.headerRules = new ForwardedHeaderRules(trustedProxies);
		this.requestObservers = observationFilters.stream()
			.filter((filter) -> filter.supports(HttpHeadersFilter.Type.REQUEST))
			.toList();
		this.responseObservers = observationFilters.stream()
			.filter((filter) -> filter.supports(HttpHeadersFilter.Type.RESPONSE))
			.toList();
		this.selfEpoch = self.epoch();
		this.responseTimeout = responseTimeout;
	}

	/**
	 * Signs every forward from now on, so receivers can reject requests that only claim to be forwarded.
	 * @param signature the signer
	 */
	public void setSignature(ForwardSignature signature) {
		this.signature = signature;
	}

	/** The signer of forwards, which receivers verify with: {@code null} when forwards are not signed. */
	public @Nullable ForwardSignature getSignature() {
		return this.signature;
	}

	/**
	 * Forwards the exchange to the owner and streams the owner's response back.
	 * @param exchange the exchange, with nothing read from its body and nothing written to its response
	 * @param sessionId the session the request names
	 * @param owner the owning instance
	 * @param onResponseHeaders called when the owner's response headers have arrived, before the body is relayed
	 * @return completion when the whole response has been relayed; {@link ConnectException} (or a subclass) when the
	 * owner could not be reached, a {@link TimeoutException} when it sent no headers in time
	 */
	public Mono<Void> forward(ServerWebExchange exchange, SessionId sessionId, InstanceIdentity owner,
			Runnable onResponseHeaders) {
		if (this.requestObservers.isEmpty()) {
			return relay(exchange, sessionId, owner, onResponseHeaders);
		}
		// Where the gateway's observation header filter finds the server observation, to continue its trace.
		return Mono.deferContextual((context) -> {
			exchange.getAttributes().put(ServerWebExchangeUtils.GATEWAY_REACTOR_CONTEXT_ATTR, context);
			return relay(exchange, sessionId, owner, onResponseHeaders)
				.doOnError((ex) -> endObservation(exchange, ex))
				.doOnCancel(() -> endObservation(exchange, null));
		});
	}

	// A forward that failed (or whose client left) before the owner's headers stopped its client observation ends it,
	// with the error if there is one, as the gateway's ObservationClosingWebExceptionHandler would if the error reached
	// the web handler: the affinity layer answers such an error itself.
	private static void endObservation(ServerWebExchange exchange, @Nullable Throwable error) {
		Observation observation = exchange.getAttribute(ServerWebExchangeUtils.GATEWAY_OBSERVATION_ATTR);
		if (observation != null && exchange.getAttributes().putIfAbsent(OBSERVATION_STOPPED, true) == null) {
			if (error != null) {
				observation.error(error);
			}
			observation.stop();
		}
	}

	private Mono<Void> relay(ServerWebExchange exchange, SessionId sessionId, InstanceIdentity owner,
			Runnable onResponseHeaders) {
		ServerHttpRequest request = exchange.getRequest();
		Flux<ByteBuf> body = request.getBody().map(NettyDataBufferFactory::toByteBuf);
		HttpHeaders observed = this.requestObservers.isEmpty() ? null
				: observedRequestHeaders(exchange, marks(request, sessionId));
		return answer(request, null, body, sessionId, owner, observed)
			.flatMap((answer) -> relayAnswer(exchange, answer, onResponseHeaders));
	}

	/**
	 * Forwards a request to the owner and streams the owner's response back, straight on Reactor Netty's server
	 * request and response: for a forward decided before Spring's web handler (no exchange, no observation).
	 * @param request the request as the server received it, with nothing read from its body
	 * @param body the request body
	 * @param response the server's response, nothing written to it yet
	 * @param sessionId the session the request names
	 * @param owner the owning instance
	 * @param onResponseHeaders called when the owner's response headers have arrived, before the body is relayed
	 * @return completion when the whole response has been relayed; errors as for
	 * {@link #forward(ServerWebExchange, SessionId, InstanceIdentity, Runnable)}
	 */
	public Mono<Void> forward(ServerHttpRequest request, Flux<ByteBuf> body, HttpServerResponse response,
			SessionId sessionId, InstanceIdentity owner, Runnable onResponseHeaders) {
		HttpServerRequest server = ServerHttpRequestDecorator.getNativeRequest(request);
		return answer(request, server.requestHeaders(), body, sessionId, owner, null)
			.flatMap((answer) -> relayAnswer(response, answer, onResponseHeaders));
	}

	private ForwardedHeaderRules.Marks marks(ServerHttpRequest request, SessionId sessionId) {
		ForwardSignature signer = this.signature;
		String signature = (signer != null) ? signer.sign(request.getMethod().name(),
				SessionRouting.pathAndQuery(request.getURI()), sessionId.value(), this.selfEpoch) : null;
		return new ForwardedHeaderRules.Marks(this.selfEpoch, signature);
	}

	// The owner's response headers, once they arrive. The request headers sent are the observed ones when given, else
	// the request's: read from Reactor Netty's own when given (Spring's read-only view over them builds its entry set
	// per call), from the request's otherwise (as the application's filters may have changed them).
	private Mono<Answer> answer(ServerHttpRequest request,
			io.netty.handler.codec.http.@Nullable HttpHeaders nativeHeaders, Flux<ByteBuf> body, SessionId sessionId,
			InstanceIdentity owner, @Nullable HttpHeaders observed) {
		URI address = owner.address();
		URI target = URI.create(
				address.getScheme() + "://" + address.getRawAuthority() + SessionRouting.pathAndQuery(request.getURI()));
		ForwardedHeaderRules.Marks marks = (observed != null) ? null : marks(request, sessionId);
		Mono<Answer> answer = this.clients.of(request)
			.request(io.netty.handler.codec.http.HttpMethod.valueOf(request.getMethod().name()))
			.uri(target)
			.send((outgoing, outbound) -> {
				io.netty.handler.codec.http.HttpHeaders headers = outgoing.requestHeaders();
				// The client's defaults: only what the client sent goes on.
				headers.remove(HttpHeaderNames.USER_AGENT).remove(HttpHeaderNames.ACCEPT);
				if (observed != null) {
					observed.forEach(headers::add);
				}
				else {
					// The owner's Host comes from the target.
					if (nativeHeaders != null) {
						this.headerRules.request(nativeHeaders, nativeHeaders::getAll, request.getRemoteAddress(),
								request.getURI(), marks, true, headers::add);
					}
					else {
						this.headerRules.request(request.getHeaders(), request.getRemoteAddress(), request.getURI(),
								marks, true, headers::add);
					}
				}
				return send(outbound, body, request.getHeaders());
			})
			.responseConnection((response, connection) -> Mono.just(new Answer(response, connection)))
			.singleOrEmpty();
		// A GET opens an SSE stream whose headers may wait for its first event: no response timeout there. With a
		// fallback, Reactor does not name the timed-out chain up front (the profile showed that naming per request).
		if (request.getMethod() != HttpMethod.GET) {
			answer = answer.timeout(this.responseTimeout, Mono.error(OwnerForwarder::responseTimedOut),
					EventLoopTimers.of(request));
		}
		return answer;
	}

	// A body already whole in its first part (a JSON-RPC message arrives with its headers, mostly) goes out with the
	// request headers in one write, as Reactor Netty sends a single-part body: as a flux, its client writes and flushes
	// the headers, waits for that write, then writes the body, and the owner may read the two apart. Any other body
	// streams part by part as it arrives; nothing waits for a part that has not arrived.
	private static Publisher<Void> send(NettyOutbound outbound, Flux<ByteBuf> body, HttpHeaders headers) {
		long length = headers.getContentLength();
		if (length <= 0 || headers.containsHeader(HttpHeaders.TRANSFER_ENCODING)) {
			return outbound.send(body);
		}
		return body.switchOnFirst((first, all) -> {
			ByteBuf part = first.get();
			return (part != null && part.readableBytes() == length) ? outbound.send(all.singleOrEmpty())
					: outbound.send(all);
		});
	}

	private Mono<Void> relayAnswer(HttpServerResponse response, Answer answer, Runnable onResponseHeaders) {
		HttpClientResponse owner = answer.response();
		response.status(owner.status());
		io.netty.handler.codec.http.HttpHeaders received = owner.responseHeaders();
		relayHeaders(received, response.responseHeaders()::add);
		onResponseHeaders.run();
		String contentType = received.get(HttpHeaderNames.CONTENT_TYPE);
		boolean streaming = contentType != null && isStreaming(MediaType.parseMediaType(contentType));
		Connection connection = answer.connection();
		return arrived(connection).flatMap((arrived) -> {
			ByteBuf whole = arrived.whole(connection.channel().alloc());
			if (whole != null) {
				return response.send(Mono.just(whole)).then();
			}
			return streaming ? response.send(arrived.stream(), (part) -> true).then()
					: response.send(arrived.stream()).then();
		});
	}

	// The owner's body as it stands once the loop has handled the read that brought the answer's headers.
	private static Mono<ArrivedBody> arrived(Connection connection) {
		return ArrivedBody.atEndOfTurn(body(connection), connection.channel().eventLoop(), connection::dispose);
	}

	private static Flux<ByteBuf> body(Connection connection) {
		return connection.inbound()
			.receive()
			.retain()
			// The client left, or the relay failed: the upstream connection goes too (a pooled one half-read is lost).
			.doOnCancel(connection::dispose)
			.doOnError((ex) -> connection.dispose());
	}

	private static TimeoutException responseTimedOut() {
		return new TimeoutException("No response headers from the owner in time");
	}

	private HttpHeaders observedRequestHeaders(ServerWebExchange exchange, ForwardedHeaderRules.Marks marks) {
		ServerHttpRequest request = exchange.getRequest();
		HttpHeaders headers = this.headerRules.request(request.getHeaders(), request.getRemoteAddress(),
				request.getURI(), marks, true);
		for (HttpHeadersFilter filter : this.requestObservers) {
			headers = filter.filter(headers, exchange);
		}
		return headers;
	}

	private Mono<Void> relayAnswer(ServerWebExchange exchange, Answer answer, Runnable onResponseHeaders) {
		ServerHttpResponse response = exchange.getResponse();
		response.setStatusCode(HttpStatusCode.valueOf(answer.response().status().code()));
		copyResponseHeaders(exchange, answer.response().responseHeaders());
		onResponseHeaders.run();
		Connection connection = answer.connection();
		NettyDataBufferFactory buffers = (response.bufferFactory() instanceof NettyDataBufferFactory netty) ? netty
				: new NettyDataBufferFactory(connection.channel().alloc());
		MediaType contentType = response.getHeaders().getContentType();
		boolean streaming = contentType != null && isStreaming(contentType);
		return arrived(connection).flatMap((arrived) -> {
			ByteBuf whole = arrived.whole(connection.channel().alloc());
			if (whole != null) {
				// Reactor Netty sets it for a single-part body itself; the other servers would send it chunked.
				if (whole.isReadable() && response.getHeaders().getContentLength() < 0) {
					response.getHeaders().setContentLength(whole.readableBytes());
				}
				return response.writeWith(Mono.just(buffers.wrap(whole)));
			}
			Flux<DataBuffer> body = arrived.stream().map(buffers::wrap);
			return streaming ? response.writeAndFlushWith(body.map(Mono::just)) : response.writeWith(body);
		});
	}

	private void copyResponseHeaders(ServerWebExchange exchange, io.netty.handler.codec.http.HttpHeaders owner) {
		HttpHeaders relayed = exchange.getResponse().getHeaders();
		if (!this.responseObservers.isEmpty()) {
			HttpHeaders received = new HttpHeaders();
			owner.forEach((header) -> received.add(header.getKey(), header.getValue()));
			HttpHeaders headers = ForwardedHeaderRules.response(received);
			for (HttpHeadersFilter filter : this.responseObservers) {
				headers = filter.filter(headers, exchange);
			}
			relayed.addAll(headers);
			return;
		}
		relayHeaders(owner, relayed::add);
	}

	// The owner's response headers, each value in one pass, but the hop-by-hop ones.
	private static void relayHeaders(io.netty.handler.codec.http.HttpHeaders owner, BiConsumer<String, String> relayed) {
		List<String> connectionOptions = ForwardedHeaderRules.options(owner.getAll(HttpHeaderNames.CONNECTION));
		for (Map.Entry<String, String> header : owner) {
			if (!ForwardedHeaderRules.isHopByHop(header.getKey(), connectionOptions)) {
				relayed.accept(header.getKey(), header.getValue());
			}
		}
	}

	private static boolean isStreaming(MediaType contentType) {
		for (MediaType streaming : STREAMING_TYPES) {
			if (streaming.isCompatibleWith(contentType)) {
				return true;
			}
		}
		return false;
	}

	/** The owner's response headers and the connection its body arrives on. */
	private record Answer(HttpClientResponse response, Connection connection) {
	}

	/**
	 * Whether a forwarding error means the owner is gone (connection refused, or no route): its sessions are then as
	 * good as gone. A connection that was not accepted in time is not that (see {@link #isConnectTimeout}).
	 * @param error the error
	 * @return whether the owner could not be reached
	 */
	public static boolean isUnreachable(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof ConnectTimeoutException) {
				return false;
			}
			if (t instanceof ConnectException || t instanceof NoRouteToHostException) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Whether a forwarding error is a connection the owner did not accept in time: a live but overloaded instance
	 * looks like that too, so its sessions are kept (an instance that is really gone stops renewing its heartbeat,
	 * and its sessions are then removed as stale).
	 * @param error the error
	 * @return whether the connection attempt timed out
	 */
	public static boolean isConnectTimeout(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof ConnectTimeoutException) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Whether a forwarding error is the owner closing the connection before its response headers: a live owner
	 * dropping it, or one going away (whose next connection is then refused, and its sessions removed).
	 * @param error the error
	 * @return whether the connection was lost before an answer
	 */
	public static boolean isConnectionLost(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof PrematureCloseException) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Whether a forwarding error is the owner's response timeout.
	 * @param error the error
	 * @return whether the owner sent no response headers in time
	 */
	public static boolean isTimeout(Throwable error) {
		return error instanceof TimeoutException;
	}

}
