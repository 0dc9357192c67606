package rlmtest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

func user(text string) []rlm.Message { return []rlm.Message{{Role: rlm.RoleUser, Content: text}} }

func TestRepliesInOrderThenExhausted(t *testing.T) {
	lm := rlmtest.Replies([]string{"one two", "three"})
	ctx := context.Background()

	first, err := lm.Complete(ctx, user("hello there world"))
	require.NoError(t, err)
	assert.Equal(t, "one two", first.Text)
	assert.Equal(t, 3, first.PromptTokens)
	assert.Equal(t, 2, first.CompletionTokens)

	second, err := lm.Complete(ctx, user("again"))
	require.NoError(t, err)
	assert.Equal(t, "three", second.Text)

	_, err = lm.Complete(ctx, user("more"))
	assert.ErrorIs(t, err, rlmtest.ErrScriptExhausted)
	assert.Equal(t, 3, lm.CallCount())
	calls := lm.Calls()
	require.Len(t, calls, 3)
	assert.Equal(t, "again", calls[1][0].Content)
}

func TestFuncSeesCallNumberAndMessages(t *testing.T) {
	lm := rlmtest.Func(func(_ context.Context, call int, messages []rlm.Message) (string, error) {
		if strings.Contains(messages[0].Content, "fail") {
			return "", errors.New("asked to fail")
		}
		return fmt.Sprintf("%d:%s", call, strings.ToUpper(messages[0].Content)), nil
	})
	got, err := lm.Complete(context.Background(), user("abc"))
	require.NoError(t, err)
	assert.Equal(t, "0:ABC", got.Text)
	_, err = lm.Complete(context.Background(), user("please fail"))
	assert.EqualError(t, err, "asked to fail")
}

func TestCallsAreCopies(t *testing.T) {
	lm := rlmtest.Replies([]string{"a"})
	msgs := user("original")
	_, err := lm.Complete(context.Background(), msgs)
	require.NoError(t, err)
	msgs[0].Content = "changed by caller"
	calls := lm.Calls()
	calls[0][0].Content = "changed by reader"
	assert.Equal(t, "original", lm.Calls()[0][0].Content)
}

func TestDelayHonoursContext(t *testing.T) {
	lm := rlmtest.Replies([]string{"late"}, rlmtest.WithDelay(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := lm.Complete(ctx, user("x"))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestConcurrentCalls(t *testing.T) {
	lm := rlmtest.Func(func(_ context.Context, call int, _ []rlm.Message) (string, error) {
		return fmt.Sprint(call), nil
	})
	var wg sync.WaitGroup
	seen := make([]string, 20)
	for i := range seen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := lm.Complete(context.Background(), user("x"))
			assert.NoError(t, err)
			seen[i] = c.Text
		}()
	}
	wg.Wait()
	assert.Equal(t, 20, lm.CallCount())
	assert.ElementsMatch(t, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19"}, seen)
}

func TestBatchAnswersInOrderWithPerItemErrors(t *testing.T) {
	inner := rlmtest.Func(func(ctx context.Context, _ int, messages []rlm.Message) (string, error) {
		info, ok := rlm.SubCallFromContext(ctx)
		if !ok {
			return "", errors.New("no sub-call in context")
		}
		if messages[0].Content == "bad" {
			return "", errors.New("bad item")
		}
		return fmt.Sprintf("%d:%s", info.ID, messages[0].Content), nil
	})
	b := rlmtest.Batch(inner)
	var _ rlm.BatchLM = b
	infos := []rlm.SubCallInfo{{ID: 7}, {ID: 8}, {ID: 9}}
	ctx := rlm.ContextWithSubCallBatch(context.Background(), infos)

	got, err := b.CompleteBatch(ctx, [][]rlm.Message{user("a"), user("bad"), user("c")})

	var batchErr *rlm.BatchError
	require.ErrorAs(t, err, &batchErr)
	require.Len(t, batchErr.Errs, 3)
	assert.NoError(t, batchErr.Errs[0])
	assert.EqualError(t, batchErr.Errs[1], "bad item")
	assert.NoError(t, batchErr.Errs[2])
	require.Len(t, got, 3)
	assert.Equal(t, "7:a", got[0].Text)
	assert.Equal(t, "9:c", got[2].Text)
	assert.Equal(t, [][]rlm.SubCallInfo{infos}, b.Batches())
}

func TestCode(t *testing.T) {
	assert.Equal(t, "```repl\nprint(1)\n```", rlmtest.Code("\nprint(1)\n"))
}

func TestCountTokens(t *testing.T) {
	assert.Equal(t, 0, rlmtest.CountTokens("  "))
	assert.Equal(t, 4, rlmtest.CountTokens("a b\nc\td"))
}
