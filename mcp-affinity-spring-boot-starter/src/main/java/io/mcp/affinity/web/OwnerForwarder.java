package io.mcp.affinity.web;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.SessionId;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.HttpHeaderNames;
import org.jspecify.annotations.Nullable;
import org.springframework.cloud.gateway.filter.headers.HttpHeadersFilter;
import org.springframework.cloud.gateway.support.ServerWebExchangeUtils;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.NettyDataBufferFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.HttpClientResponse;

/**
 * Forwards an exchange to the instance that owns its session, on the pooled Reactor Netty client the gateway's
 * {@code HttpClientFactory} builds from its {@code httpclient} properties. Nothing is buffered: the request body
 * streams to the owner as it arrives, each part passed on as the buffer it came in, and an SSE (or NDJSON) response
 * streams back event by event, flushed as it comes. When the client goes away, the upstream connection is closed.
 * <p>
 * The gateway's own routing and response-writing filters did the same through a synthetic route and exchange
 * attributes, copying the headers into Spring's {@code HttpHeaders} and again into Netty's each way; here the relay is
 * written against Reactor Netty directly, one pass over the headers each way (docs/benchmarks.md has the profile and
 * the figures). With a tracer, the gateway's observation header filters still open the forward's client span and
 * propagate the trace.
 */
public final class OwnerForwarder {

	// Media types relayed with a flush per part: the gateway's streaming types, and NDJSON.
	private static final List<MediaType> STREAMING_TYPES = List.of(MediaType.TEXT_EVENT_STREAM,
			MediaType.APPLICATION_NDJSON, MediaType.valueOf("application/stream+json"),
			MediaType.valueOf("application/grpc"), MediaType.valueOf("application/grpc+protobuf"),
			MediaType.valueOf("application/grpc+json"));

	private final HttpClient client;

	private final ForwardedHeaderRules headerRules;

	private final List<HttpHeadersFilter> requestObservers;

	private final List<HttpHeadersFilter> responseObservers;

	private final String selfEpoch;

	private final Duration responseTimeout;

	private @Nullable ForwardSignature signature;

	/**
	 * Creates a forwarder.
	 * @param httpClient the client to the owners, e.g. built by the gateway's {@code HttpClientFactory} from its
	 * {@code httpclient} properties
	 * @param observationFilters the gateway's observation header filters (request and response), applied to every
	 * forward; empty when there is no tracer to continue
	 * @param trustedProxies regular expression of the client addresses trusted to set {@code X-Forwarded-*}
	 * @param self this instance: forwarded requests are marked with its epoch
	 * @param connectTimeout how long to wait for a connection to the owner
	 * @param responseTimeout how long to wait for the owner's response headers (not for a streamed body)
	 */
	public OwnerForwarder(HttpClient httpClient, List<HttpHeadersFilter> observationFilters, String trustedProxies,
			InstanceIdentity self, Duration connectTimeout, Duration responseTimeout) {
		this.client = httpClient.option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
				Math.toIntExact(connectTimeout.toMillis()));
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
			return relay(exchange, sessionId, owner, onResponseHeaders);
		});
	}

	private Mono<Void> relay(ServerWebExchange exchange, SessionId sessionId, InstanceIdentity owner,
			Runnable onResponseHeaders) {
		ServerHttpRequest request = exchange.getRequest();
		String pathAndQuery = SessionRouting.pathAndQuery(request.getURI());
		URI address = owner.address();
		URI target = URI.create(address.getScheme() + "://" + address.getRawAuthority() + pathAndQuery);
		ForwardSignature signer = this.signature;
		String signature = (signer != null)
				? signer.sign(request.getMethod().name(), pathAndQuery, sessionId.value(), this.selfEpoch) : null;
		ForwardedHeaderRules.Marks marks = new ForwardedHeaderRules.Marks(this.selfEpoch, signature);
		HttpHeaders observed = this.requestObservers.isEmpty() ? null : observedRequestHeaders(exchange, marks);
		Flux<ByteBuf> body = request.getBody().map(NettyDataBufferFactory::toByteBuf);
		Mono<Answer> answer = this.client
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
					this.headerRules.request(request.getHeaders(), request.getRemoteAddress(), request.getURI(), marks,
							true, headers::add);
				}
				return outbound.send(body);
			})
			.responseConnection((response, connection) -> Mono.just(new Answer(response, connection)))
			.singleOrEmpty();
		// A GET opens an SSE stream whose headers may wait for its first event: no response timeout there. With a
		// fallback, Reactor does not name the timed-out chain up front (the profile showed that naming per request).
		if (request.getMethod() != HttpMethod.GET) {
			answer = answer.timeout(this.responseTimeout, Mono.error(OwnerForwarder::responseTimedOut),
					EventLoopTimers.of(request));
		}
		return answer.flatMap((owned) -> relayAnswer(exchange, owned, onResponseHeaders));
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
		Flux<DataBuffer> body = connection.inbound()
			.receive()
			.retain()
			.<DataBuffer>map(buffers::wrap)
			// The client left, or the relay failed: the upstream connection goes too (a pooled one half-read is lost).
			.doOnCancel(connection::dispose)
			.doOnError((ex) -> connection.dispose());
		MediaType contentType = response.getHeaders().getContentType();
		if (contentType != null && isStreaming(contentType)) {
			return response.writeAndFlushWith(body.map(Mono::just));
		}
		return response.writeWith(body);
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
		List<String> connectionOptions = owner.getAll(HttpHeaderNames.CONNECTION);
		if (!connectionOptions.isEmpty()) {
			connectionOptions = splitOptions(connectionOptions);
		}
		for (Map.Entry<String, String> header : owner) {
			if (!ForwardedHeaderRules.isHopByHop(header.getKey(), connectionOptions)) {
				relayed.add(header.getKey(), header.getValue());
			}
		}
	}

	private static List<String> splitOptions(List<String> connectionValues) {
		List<String> options = new ArrayList<>();
		for (String value : connectionValues) {
			for (String option : value.split(",")) {
				options.add(option.trim());
			}
		}
		return options;
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
	 * Whether a forwarding error is the owner's response timeout.
	 * @param error the error
	 * @return whether the owner sent no response headers in time
	 */
	public static boolean isTimeout(Throwable error) {
		return error instanceof TimeoutException;
	}

}
