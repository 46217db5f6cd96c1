package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.function.Supplier;

import org.apache.hc.client5.http.classic.HttpClient;
import org.apache.hc.client5.http.impl.io.ManagedHttpClientConnectionFactory;
import org.apache.hc.client5.http.io.ManagedHttpClientConnection;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.concurrent.Cancellable;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.impl.io.DefaultHttpResponseParserFactory;
import org.apache.hc.core5.http.impl.io.HttpRequestExecutor;
import org.apache.hc.core5.http.io.HttpClientConnection;
import org.apache.hc.core5.http.io.HttpConnectionFactory;
import org.apache.hc.core5.http.io.HttpMessageParser;
import org.apache.hc.core5.http.io.HttpMessageParserFactory;
import org.apache.hc.core5.http.io.HttpResponseInformationCallback;
import org.apache.hc.core5.http.io.SessionInputBuffer;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.util.Timeout;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpMethod;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;

/**
 * Spring's request factory for Apache HttpClient 5 (classic: the calling thread does the I/O, no hand-over between
 * threads), which also hands each request it creates to whoever is forwarding on that thread, so the forward can abort
 * it from another thread. Aborting is the only way to end a blocking read (an interrupt does not), and closing the
 * response would first read the rest of the body, which never ends on an open SSE stream. The handle also learns the
 * connection the request went out on (through the client's {@link #requestExecutor() request executor}), and that
 * connection's input buffer (through its {@link #connectionFactory() response parser}), so the forward can ask whether
 * more of the owner's answer is arriving before it reads, and whether it has already arrived before it flushes.
 */
public final class AbortableRequestFactory extends HttpComponentsClientHttpRequestFactory {

	private static final String ABORT_ATTRIBUTE = Abort.class.getName();

	// The forward whose response headers are being parsed on this thread: the parser gives it the connection's buffer.
	private static final ThreadLocal<Abort> RECEIVING = new ThreadLocal<>();

	private final ThreadLocal<Abort> current = new ThreadLocal<>();

	/**
	 * Creates the factory.
	 * @param httpClient the client
	 */
	public AbortableRequestFactory(HttpClient httpClient) {
		super(httpClient);
	}

	/**
	 * Runs a forward whose request, once created, the given handle can abort.
	 * @param <T> the forward's result
	 * @param abort receives the request
	 * @param forward the forward, which creates its request on this thread
	 * @return the forward's result
	 */
	<T> T forwarding(Abort abort, Supplier<T> forward) {
		this.current.set(abort);
		try {
			return forward.get();
		}
		finally {
			this.current.remove();
		}
	}

	/**
	 * The request executor the client must use for {@link Abort#answerArriving} to know the connection of a request.
	 * @return a new executor
	 */
	public static HttpRequestExecutor requestExecutor() {
		return new ConnectionRecordingExecutor();
	}

	/**
	 * The connection factory the client must use for {@link Abort#nextPartArrived} to see what a request's connection
	 * has read ahead: the client's default connections, whose response parser also hands the connection's input
	 * buffer to the forward being answered.
	 * @return a new factory
	 */
	public static HttpConnectionFactory<ManagedHttpClientConnection> connectionFactory() {
		return ManagedHttpClientConnectionFactory.builder().responseParserFactory(new BufferRecordingParsers()).build();
	}

	@Override
	protected void postProcessHttpRequest(ClassicHttpRequest request) {
		Abort abort = this.current.get();
		if (abort != null && request instanceof Cancellable cancellable) {
			abort.set(cancellable);
		}
	}

	@Override
	protected @Nullable HttpContext createHttpContext(HttpMethod httpMethod, URI uri) {
		Abort abort = this.current.get();
		if (abort == null) {
			return null;
		}
		HttpClientContext context = HttpClientContext.create();
		context.setAttribute(ABORT_ATTRIBUTE, abort);
		return context;
	}

	/** Aborts one forward's request: ends its wait for headers, or its streamed body. */
	static final class Abort {

		// A chunk's data is followed by CRLF: read ahead alone, it does not mean the next chunk has begun.
		private static final int CHUNK_LINE_END = 2;

		private @Nullable Cancellable request;

		private volatile @Nullable HttpClientConnection connection;

		private volatile @Nullable SessionInputBuffer received;

		private boolean aborted;

		synchronized void set(Cancellable request) {
			this.request = request;
			if (this.aborted) {
				request.cancel();
			}
		}

		synchronized void abort() {
			this.aborted = true;
			if (this.request != null) {
				this.request.cancel();
			}
		}

		/**
		 * Whether more of the owner's answer has arrived, or arrives within the given time: a read of the answer's
		 * body would then not wait for the owner (beyond the rest of a chunk the owner is in the middle of sending).
		 * Called on the thread reading the answer, between reads.
		 * @param wait how long to wait for it, at least a millisecond
		 * @return {@code false} when nothing came in time, or the connection is not known
		 * @throws IOException when the connection failed (or the forward was aborted)
		 */
		boolean answerArriving(Duration wait) throws IOException {
			HttpClientConnection connection = this.connection;
			// The client's connection buffers what it read: it answers from that buffer first, then waits on the
			// socket for at most the given time, reading what comes into the same buffer.
			return connection != null && connection.isDataAvailable(Timeout.of(wait));
		}

		/**
		 * Whether the owner's next part has already begun to arrive, asked without a wait or a system call: the
		 * connection holds more of the answer than a chunk's closing line end. Called on the thread reading the answer,
		 * after a read, to leave the part just read unflushed when more follows at once (the stream's end after an
		 * answer nearly always does).
		 * @return {@code false} when nothing more is there, or the connection's buffer is not known
		 */
		boolean nextPartArrived() {
			SessionInputBuffer received = this.received;
			return received != null && received.length() > CHUNK_LINE_END;
		}

	}

	/** Hands each request's connection to the request's {@link Abort}, found in the request's context. */
	private static final class ConnectionRecordingExecutor extends HttpRequestExecutor {

		@Override
		public ClassicHttpResponse execute(ClassicHttpRequest request, HttpClientConnection connection,
				@Nullable HttpResponseInformationCallback informationCallback, HttpContext context)
				throws IOException, HttpException {
			if (!(context.getAttribute(ABORT_ATTRIBUTE) instanceof Abort abort)) {
				return super.execute(request, connection, informationCallback, context);
			}
			abort.connection = connection;
			RECEIVING.set(abort);
			try {
				return super.execute(request, connection, informationCallback, context);
			}
			finally {
				RECEIVING.remove();
			}
		}

	}

	/**
	 * The client's default response parsers, each of which also hands the buffer it parsed from (the connection's own,
	 * which holds whatever the connection read beyond the headers) to the forward whose response it is.
	 */
	private static final class BufferRecordingParsers implements HttpMessageParserFactory<ClassicHttpResponse> {

		@Override
		public HttpMessageParser<ClassicHttpResponse> create() {
			return recording(DefaultHttpResponseParserFactory.INSTANCE.create());
		}

		@Override
		@Deprecated
		@SuppressWarnings("deprecation")
		public HttpMessageParser<ClassicHttpResponse> create(Http1Config http1Config) {
			return recording(DefaultHttpResponseParserFactory.INSTANCE.create(http1Config));
		}

		private static HttpMessageParser<ClassicHttpResponse> recording(HttpMessageParser<ClassicHttpResponse> parser) {
			return (buffer, inputStream) -> {
				ClassicHttpResponse response = parser.parse(buffer, inputStream);
				Abort abort = RECEIVING.get();
				if (abort != null) {
					abort.received = buffer;
				}
				return response;
			};
		}

	}

}
