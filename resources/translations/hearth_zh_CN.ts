<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>AboutDialog</name>
    <message>
        <source>About Hearth</source>
        <translation>关于 Hearth</translation>
    </message>
    <message>
        <source>Version {version}</source>
        <translation>版本 {version}</translation>
    </message>
    <message>
        <source>Version unknown (Hearth runs from its source without being installed)</source>
        <translation>版本未知（Hearth 从源码运行，未经安装）</translation>
    </message>
    <message>
        <source>Hearth runs language models entirely on this computer: no account, no cloud, and nothing you type leaves it.</source>
        <translation>Hearth 完全在这台电脑上运行语言模型：无需账号，不用云端，你输入的任何内容都不会离开这台电脑。</translation>
    </message>
    <message>
        <source>Python:</source>
        <translation>Python：</translation>
    </message>
    <message>
        <source>Qt:</source>
        <translation>Qt：</translation>
    </message>
    <message>
        <source>PySide6:</source>
        <translation>PySide6：</translation>
    </message>
    <message>
        <source>System:</source>
        <translation>系统：</translation>
    </message>
    <message>
        <source>Data folder:</source>
        <translation>数据文件夹：</translation>
    </message>
    <message>
        <source>Log folder:</source>
        <translation>日志文件夹：</translation>
    </message>
    <message>
        <source>License:</source>
        <translation>许可证：</translation>
    </message>
    <message>
        <source>Python version</source>
        <translation>Python 版本</translation>
    </message>
    <message>
        <source>Qt version</source>
        <translation>Qt 版本</translation>
    </message>
    <message>
        <source>PySide6 version</source>
        <translation>PySide6 版本</translation>
    </message>
    <message>
        <source>Operating system</source>
        <translation>操作系统</translation>
    </message>
    <message>
        <source>Data folder</source>
        <translation>数据文件夹</translation>
    </message>
    <message>
        <source>Log folder</source>
        <translation>日志文件夹</translation>
    </message>
    <message>
        <source>License</source>
        <translation>许可证</translation>
    </message>
    <message>
        <source>Your models and conversations are kept here</source>
        <translation>你的模型和对话保存在这里</translation>
    </message>
    <message>
        <source>Attach hearth.log from here to a bug report</source>
        <translation>提交错误报告时，请附上这里的 hearth.log</translation>
    </message>
    <message>
        <source>Built on llama.cpp (MIT license) and Qt for Python (LGPLv3). The starter model, Qwen2.5-Coder-1.5B-Instruct, is licensed under Apache-2.0.</source>
        <translation>基于 llama.cpp（MIT 许可证）和 Qt for Python（LGPLv3）构建。入门模型 Qwen2.5-Coder-1.5B-Instruct 采用 Apache-2.0 许可证。</translation>
    </message>
    <message>
        <source>&amp;Copy details</source>
        <translation>复制详细信息(&amp;C)</translation>
    </message>
    <message>
        <source>Copy the versions and folders, to paste into a bug report</source>
        <translation>复制版本和文件夹信息，以便粘贴到错误报告中</translation>
    </message>
</context>
<context>
    <name>AnswerView</name>
    <message>
        <source>Answer</source>
        <translation>回答</translation>
    </message>
    <message>
        <source>Press Tab to move between the links under each code block, Enter to use one.</source>
        <translation>按 Tab 键在每个代码块下方的链接之间移动，按 Enter 键使用链接。</translation>
    </message>
    <message>
        <source>Pick a task and press Run. The model works on the selection, or on the whole code when nothing is selected, on this computer.</source>
        <translation>选择一项任务并点击“运行”。模型在本机处理选中的代码；未选中任何内容时处理全部代码。</translation>
    </message>
    <message>
        <source>A&amp;pply to editor</source>
        <translation>应用到编辑器(&amp;P)</translation>
    </message>
    <message>
        <source>Replace the code the task ran on with the answer&apos;s code</source>
        <translation>用回答中的代码替换任务所处理的代码</translation>
    </message>
    <message>
        <source>Cop&amp;y code</source>
        <translation>复制代码(&amp;Y)</translation>
    </message>
    <message>
        <source>Save co&amp;de…</source>
        <translation>保存代码(&amp;D)…</translation>
    </message>
    <message>
        <source>Writing…</source>
        <translation>正在编写…</translation>
    </message>
    <message>
        <source>{rate:.1f} tokens/s · {count} tokens</source>
        <translation>{rate:.1f} 词元/秒 · {count} 个词元</translation>
    </message>
    <message>
        <source>{share:.0%} of drafted tokens kept</source>
        <translation>草稿词元保留 {share:.0%}</translation>
    </message>
    <message>
        <source>stopped where the model began repeating itself</source>
        <translation>模型开始重复，已在此处停止</translation>
    </message>
    <message>
        <source>cut at the answer length limit</source>
        <translation>回答已达长度上限，被截断</translation>
    </message>
    <message>
        <source>The answer proposes no change to the code.</source>
        <translation>回答没有提出对代码的任何修改。</translation>
    </message>
    <message>
        <source>This task did not finish.</source>
        <translation>此任务未完成。</translation>
    </message>
    <message>
        <source>This task was stopped early.</source>
        <translation>此任务被提前停止。</translation>
    </message>
    <message>
        <source>This task failed.</source>
        <translation>此任务失败。</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy this code block</source>
        <translation>复制此代码块</translation>
    </message>
    <message>
        <source>Save…</source>
        <translation>保存…</translation>
    </message>
    <message>
        <source>Save this code block to a file</source>
        <translation>将此代码块保存到文件</translation>
    </message>
    <message>
        <source>Apply to editor</source>
        <translation>应用到编辑器</translation>
    </message>
    <message>
        <source>Replace the code the task ran on with this block</source>
        <translation>用此代码块替换任务所处理的代码</translation>
    </message>
</context>
<context>
    <name>ApiServerDialog</name>
    <message>
        <source>API server</source>
        <translation>API 服务器</translation>
    </message>
    <message>
        <source>Serve the OpenAI-compatible API</source>
        <translation>提供 OpenAI 兼容 API</translation>
    </message>
    <message>
        <source>Serve the API</source>
        <translation>提供 API</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>端口(&amp;P)：</translation>
    </message>
    <message>
        <source>Turn the server off to change its port.</source>
        <translation>要更改端口，请先关闭服务器。</translation>
    </message>
    <message>
        <source>&amp;Address:</source>
        <translation>地址(&amp;A)：</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>已关闭</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy the address</source>
        <translation>复制地址</translation>
    </message>
    <message>
        <source>&amp;Token:</source>
        <translation>令牌(&amp;T)：</translation>
    </message>
    <message>
        <source>Made when the server first starts</source>
        <translation>服务器首次启动时生成</translation>
    </message>
    <message>
        <source>Clients send it as their API key. It is kept in Hearth&apos;s config folder.</source>
        <translation>客户端把它当作 API 密钥发送。它保存在 Hearth 的配置文件夹中。</translation>
    </message>
    <message>
        <source>Copy the token</source>
        <translation>复制令牌</translation>
    </message>
    <message>
        <source>Show the token</source>
        <translation>显示令牌</translation>
    </message>
    <message>
        <source>Hide</source>
        <translation>隐藏</translation>
    </message>
    <message>
        <source>Show</source>
        <translation>显示</translation>
    </message>
    <message>
        <source>&amp;Requests:</source>
        <translation>请求(&amp;R)：</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Path</source>
        <translation>路径</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Tokens</source>
        <translation>词元</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>耗时</translation>
    </message>
    <message>
        <source>Request log</source>
        <translation>请求日志</translation>
    </message>
    <message>
        <source>Prompt tokens + generated tokens</source>
        <translation>提示词元 + 生成词元</translation>
    </message>
    <message>
        <source>C&amp;lear log</source>
        <translation>清空日志(&amp;L)</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <source>Other programs on this computer can use Hearth&apos;s model through an OpenAI-compatible API. Turn it on to serve it on 127.0.0.1 only.</source>
        <translation>这台电脑上的其他程序可以通过 OpenAI 兼容 API 使用 Hearth 的模型。打开后，它只在 127.0.0.1 上提供服务。</translation>
    </message>
    <message>
        <source>Answering requests: {count}. The chat and the other panes wait their turn.</source>
        <translation>正在应答的请求：{count}。聊天和其他窗格会排队等候。</translation>
    </message>
    <message>
        <source>Serving the model loaded in the window, to this computer only. Give clients the address as their OpenAI base URL and the token as their API key.</source>
        <translation>正在向这台电脑提供窗口中已加载的模型。请把地址作为客户端的 OpenAI 基础 URL，把令牌作为 API 密钥。</translation>
    </message>
    <message>
        <source>{prompt} + {completion}</source>
        <translation>{prompt} + {completion}</translation>
    </message>
    <message>
        <source>{ms} ms</source>
        <translation>{ms} 毫秒</translation>
    </message>
    <message>
        <source>{s:.1f} s</source>
        <translation>{s:.1f} 秒</translation>
    </message>
</context>
<context>
    <name>ApiServerHost</name>
    <message>
        <source>Port {port} is already in use by another program. Choose another port, or stop the program that uses it.</source>
        <translation>端口 {port} 已被其他程序占用。请选择其他端口，或停止占用它的程序。</translation>
    </message>
    <message>
        <source>The API server could not start: {reason}</source>
        <translation>API 服务器无法启动：{reason}</translation>
    </message>
</context>
<context>
    <name>ApiStatusButton</name>
    <message>
        <source>API server</source>
        <translation>API 服务器</translation>
    </message>
    <message>
        <source>API: off</source>
        <translation>API：已关闭</translation>
    </message>
    <message>
        <source>API: {address} · answering {count}</source>
        <translation>API：{address} · 正在应答 {count} 个</translation>
    </message>
    <message>
        <source>API: {address}</source>
        <translation>API：{address}</translation>
    </message>
    <message>
        <source>The OpenAI-compatible API server: click to turn it on or off</source>
        <translation>OpenAI 兼容 API 服务器：点击以打开或关闭</translation>
    </message>
</context>
<context>
    <name>ChatBranches</name>
    <message>
        <source>The branch was deleted.</source>
        <translation>分支已删除。</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <source>{title} (branch)</source>
        <translation>{title}（分支）</translation>
    </message>
</context>
<context>
    <name>ChatOptionsPanel</name>
    <message>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <source>Concise</source>
        <translation>简洁</translation>
    </message>
    <message>
        <source>Explain like a teacher</source>
        <translation>像老师一样讲解</translation>
    </message>
    <message>
        <source>Translator (English ↔ 中文)</source>
        <translation>翻译（英文 ↔ 中文）</translation>
    </message>
    <message>
        <source>Code helper</source>
        <translation>编程助手</translation>
    </message>
    <message>
        <source>Writing editor</source>
        <translation>写作编辑</translation>
    </message>
    <message>
        <source>Chat options</source>
        <translation>聊天选项</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <source>P&amp;reset:</source>
        <translation>预设(&amp;R)：</translation>
    </message>
    <message>
        <source>System prompt preset</source>
        <translation>系统提示词预设</translation>
    </message>
    <message>
        <source>Ready-made instructions that tell the model how to answer</source>
        <translation>现成的指令，告诉模型该如何回答</translation>
    </message>
    <message>
        <source>Pro&amp;mpt:</source>
        <translation>提示词(&amp;M)：</translation>
    </message>
    <message>
        <source>Instructions the model reads before the conversation. Sent with every message.</source>
        <translation>模型在对话开始前读取的指令，每条消息都会附带发送。</translation>
    </message>
    <message>
        <source>Leave empty to send no system prompt</source>
        <translation>留空则不发送系统提示词</translation>
    </message>
    <message>
        <source>Changed. Save keeps the change in this preset.</source>
        <translation>已修改。点击“保存”可将修改保留在此预设中。</translation>
    </message>
    <message>
        <source>Unsaved changes</source>
        <translation>未保存的修改</translation>
    </message>
    <message>
        <source>Save</source>
        <translation>保存</translation>
    </message>
    <message>
        <source>Save preset</source>
        <translation>保存预设</translation>
    </message>
    <message>
        <source>Keep the edited prompt in the selected preset</source>
        <translation>将编辑后的提示词保存到所选预设</translation>
    </message>
    <message>
        <source>Save as…</source>
        <translation>另存为…</translation>
    </message>
    <message>
        <source>Save as a new preset</source>
        <translation>另存为新预设</translation>
    </message>
    <message>
        <source>Save the prompt as a new preset with its own name</source>
        <translation>将提示词另存为一个有自己名称的新预设</translation>
    </message>
    <message>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <source>Rename preset</source>
        <translation>重命名预设</translation>
    </message>
    <message>
        <source>Rename the selected preset (built-in presets keep their names)</source>
        <translation>重命名所选预设（内置预设的名称不能更改）</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Delete preset</source>
        <translation>删除预设</translation>
    </message>
    <message>
        <source>Delete the selected preset (built-in presets cannot be deleted)</source>
        <translation>删除所选预设（内置预设不能删除）</translation>
    </message>
    <message>
        <source>Restore</source>
        <translation>恢复</translation>
    </message>
    <message>
        <source>Restore built-in preset</source>
        <translation>恢复内置预设</translation>
    </message>
    <message>
        <source>Bring back the original text of this built-in preset</source>
        <translation>恢复此内置预设的原始文本</translation>
    </message>
    <message>
        <source>Sampling</source>
        <translation>采样</translation>
    </message>
    <message>
        <source>&amp;Temperature:</source>
        <translation>温度(&amp;T)：</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>How adventurous the answers are. Low values give focused, repeatable answers; high values give more varied, creative ones. 0 always picks the most likely word.</source>
        <translation>回答的大胆程度。值越低，回答越集中、越可重复；值越高，回答越多样、越有创意。0 总是选择可能性最大的词。</translation>
    </message>
    <message>
        <source>Top-&amp;p:</source>
        <translation>Top-p(&amp;P)：</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Only consider the most likely words whose chances add up to this share. Lower values keep answers safer and more predictable; 1 turns this off.</source>
        <translation>只考虑概率累计达到这一比例的最可能的词。值越低，回答越稳妥、越可预测；设为 1 则关闭此项。</translation>
    </message>
    <message>
        <source>Top-&amp;k:</source>
        <translation>Top-k(&amp;K)：</translation>
    </message>
    <message>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <source>Only consider this many of the most likely words at each step. Off means no limit.</source>
        <translation>每一步只考虑这么多个最可能的词。“关闭”表示不限制。</translation>
    </message>
    <message>
        <source>M&amp;in-p:</source>
        <translation>Min-p(&amp;I)：</translation>
    </message>
    <message>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <source>Skip words far less likely than the best one: a word needs at least this fraction of the best word&apos;s chance. Off keeps every word.</source>
        <translation>跳过可能性远低于最佳词的词：一个词的概率至少要达到最佳词的这一比例。“关闭”则保留所有词。</translation>
    </message>
    <message>
        <source>Repeat pe&amp;nalty:</source>
        <translation>重复惩罚(&amp;N)：</translation>
    </message>
    <message>
        <source>Repeat penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <source>Discourage words that were just used. 1 means no penalty; higher values make the model repeat itself less.</source>
        <translation>抑制刚刚用过的词。1 表示不惩罚；值越高，模型越少重复自己。</translation>
    </message>
    <message>
        <source>Max t&amp;okens:</source>
        <translation>最大 token 数(&amp;O)：</translation>
    </message>
    <message>
        <source>Max tokens</source>
        <translation>最大 token 数</translation>
    </message>
    <message>
        <source>The longest an answer can be, in tokens (a token is a word or part of one). The answer stops when it gets this long.</source>
        <translation>回答的最大长度，以 token 计（一个 token 是一个词或词的一部分）。回答达到这个长度时就会停止。</translation>
    </message>
    <message>
        <source>S&amp;eed:</source>
        <translation>随机种子(&amp;E)：</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>A number that fixes the random choices, so the same question gets the same answer again. Random gives a different answer each time.</source>
        <translation>固定随机选择的数字，让同样的问题再次得到同样的回答。选“随机”则每次回答都不同。</translation>
    </message>
    <message>
        <source>0 (greedy)</source>
        <translation>0（贪婪）</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Random</source>
        <translation>随机</translation>
    </message>
    <message>
        <source>Faster copying (prompt lookup)</source>
        <translation>更快复述（提示查找）</translation>
    </message>
    <message>
        <source>Prompt lookup</source>
        <translation>提示查找</translation>
    </message>
    <message>
        <source>When an answer repeats text from the conversation (a rewrite, a quote, code to fix), write several tokens per step. The answer is the same.</source>
        <translation>当回答重复对话中的文字（改写、引用、要修复的代码）时，每一步写出多个词元。回答内容不变。</translation>
    </message>
    <message>
        <source>Reset sampling</source>
        <translation>重置采样</translation>
    </message>
    <message>
        <source>Set every sampling value back to its default</source>
        <translation>将所有采样参数恢复为默认值</translation>
    </message>
    <message>
        <source>{name} (edited)</source>
        <translation>{name}（已修改）</translation>
    </message>
    <message>
        <source>(custom)</source>
        <translation>（自定义）</translation>
    </message>
    <message>
        <source>A preset needs a name.</source>
        <translation>预设需要一个名称。</translation>
    </message>
    <message>
        <source>A name can be at most {count} characters long.</source>
        <translation>名称最多 {count} 个字符。</translation>
    </message>
    <message>
        <source>There is already a preset called “{name}”.</source>
        <translation>已有名为“{name}”的预设。</translation>
    </message>
    <message>
        <source>Save preset as</source>
        <translation>预设另存为</translation>
    </message>
    <message>
        <source>Name of the new preset:</source>
        <translation>新预设的名称：</translation>
    </message>
    <message>
        <source>The preset was not saved. {reason}</source>
        <translation>预设未保存。{reason}</translation>
    </message>
    <message>
        <source>New name for “{name}”:</source>
        <translation>“{name}”的新名称：</translation>
    </message>
    <message>
        <source>The preset was not renamed. {reason}</source>
        <translation>预设未重命名。{reason}</translation>
    </message>
    <message>
        <source>Delete the preset “{name}”? This cannot be undone.</source>
        <translation>删除预设“{name}”？此操作无法撤销。</translation>
    </message>
    <message>
        <source>Restore preset</source>
        <translation>恢复预设</translation>
    </message>
    <message>
        <source>Bring back the original text of “{name}”? Your version of it is replaced.</source>
        <translation>恢复“{name}”的原始文本？你修改过的版本将被替换。</translation>
    </message>
    <message>
        <source>Reset to defaults</source>
        <translation>恢复默认</translation>
    </message>
    <message>
        <source>Forget this model&apos;s own settings? It will use the default settings and the selected preset again.</source>
        <translation>要清除此模型自己的设置吗？它将重新使用默认设置和所选预设。</translation>
    </message>
</context>
<context>
    <name>ChatPane</name>
    <message>
        <source>New chat</source>
        <translation>新建聊天</translation>
    </message>
    <message>
        <source>Start a new conversation (Ctrl+N)</source>
        <translation>开始新的对话（Ctrl+N）</translation>
    </message>
    <message>
        <source>Options</source>
        <translation>选项</translation>
    </message>
    <message>
        <source>Show or hide the system prompt and sampling settings</source>
        <translation>显示或隐藏系统提示词和采样设置</translation>
    </message>
    <message>
        <source>Chat options</source>
        <translation>聊天选项</translation>
    </message>
    <message>
        <source>Message the model — Enter to send, Shift+Enter for a new line, Up to edit your last message</source>
        <translation>给模型发消息 —— Enter 发送，Shift+Enter 换行，↑ 编辑上一条消息</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>消息</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <source>Send the message (Enter)</source>
        <translation>发送消息（Enter）</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop the answer (Esc)</source>
        <translation>停止回答（Esc）</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <source>Answer the last message again (Ctrl+R)</source>
        <translation>重新回答最后一条消息（Ctrl+R）</translation>
    </message>
    <message>
        <source>Think first</source>
        <translation>先思考</translation>
    </message>
    <message>
        <source>Let the model think before it answers: slower, often better on hard questions. The thinking is shown folded above the answer.</source>
        <translation>让模型先思考再回答：速度较慢，但难题往往答得更好。思考过程折叠显示在回答上方。</translation>
    </message>
    <message>
        <source>Conversation and options</source>
        <translation>对话和选项</translation>
    </message>
    <message>
        <source>Restart engine</source>
        <translation>重启引擎</translation>
    </message>
    <message>
        <source>About {title}</source>
        <translation>关于 {title}</translation>
    </message>
    <message>
        <source>The pasted text has {size} characters; a message holds at most {limit}. Paste a part of it, or summarize the whole text as a file in Summarize.</source>
        <translation>粘贴的文本有 {size} 个字符，一条消息最多 {limit} 个。请粘贴其中一部分，或将整段文本存为文件，在“摘要”中处理。</translation>
    </message>
    <message>
        <source>Editing message {number}. Sending it starts a new branch here; the current one, with the {later} messages after it, is kept (‹ › switches). Esc cancels.</source>
        <translation>正在编辑第 {number} 条消息。发送后将从这里开始一个新分支；当前分支及其后的 {later} 条消息会保留（用 ‹ › 切换）。按 Esc 取消。</translation>
    </message>
    <message>
        <source>Cancel editing</source>
        <translation>取消编辑</translation>
    </message>
    <message>
        <source>Code copied to the clipboard</source>
        <translation>代码已复制到剪贴板</translation>
    </message>
    <message>
        <source>Answer copied to the clipboard</source>
        <translation>回答已复制到剪贴板</translation>
    </message>
    <message>
        <source>Restarting the engine…</source>
        <translation>正在重启引擎…</translation>
    </message>
    <message>
        <source>Interrupted: the engine stopped before the answer ended.</source>
        <translation>已中断：引擎在回答结束前停止了。</translation>
    </message>
</context>
<context>
    <name>CodeCompletion</name>
    <message>
        <source>Load a model first.</source>
        <translation>请先加载模型。</translation>
    </message>
    <message>
        <source>Insert a completion at the cursor, from the code around it (Ctrl+Space)</source>
        <translation>根据光标前后的代码，在光标处插入补全内容（Ctrl+Space）</translation>
    </message>
    <message>
        <source>The loaded model has no fill-in-the-middle tokens; a coder model such as Qwen2.5-Coder has them.</source>
        <translation>当前加载的模型没有中间填充（FIM）标记；Qwen2.5-Coder 等代码模型具备这些标记。</translation>
    </message>
    <message>
        <source>Completing…</source>
        <translation>正在补全…</translation>
    </message>
    <message>
        <source>Could not complete: {reason}</source>
        <translation>无法补全：{reason}</translation>
    </message>
    <message>
        <source>Completion stopped.</source>
        <translation>补全已停止。</translation>
    </message>
    <message>
        <source>Completed {count} characters; Ctrl+Z undoes it.</source>
        <translation>已补全 {count} 个字符；按 Ctrl+Z 可撤销。</translation>
    </message>
</context>
<context>
    <name>CodeLanguage</name>
    <message>
        <source>Plain text</source>
        <translation>纯文本</translation>
    </message>
    <message>
        <source>Shell</source>
        <translation>Shell</translation>
    </message>
</context>
<context>
    <name>CodeModelAdvice</name>
    <message>
        <source>The loaded model is a general chat model. For code, {name} fits this computer and does better.</source>
        <translation>当前加载的是通用聊天模型。处理代码时，{name} 更合适，且能在这台电脑上运行。</translation>
    </message>
</context>
<context>
    <name>CodePane</name>
    <message>
        <source>Complete at &amp;cursor</source>
        <translation>在光标处补全(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Open…</source>
        <translation>打开(&amp;O)…</translation>
    </message>
    <message>
        <source>Open a source file (Ctrl+O), or drop one here</source>
        <translation>打开源代码文件（Ctrl+O），或将文件拖放到这里</translation>
    </message>
    <message>
        <source>&amp;Save</source>
        <translation>保存(&amp;S)</translation>
    </message>
    <message>
        <source>Save the code (Ctrl+S)</source>
        <translation>保存代码（Ctrl+S）</translation>
    </message>
    <message>
        <source>Save as…</source>
        <translation>另存为…</translation>
    </message>
    <message>
        <source>Save the code under another name (Ctrl+Shift+S)</source>
        <translation>以其他文件名保存代码（Ctrl+Shift+S）</translation>
    </message>
    <message>
        <source>Code editor</source>
        <translation>代码编辑器</translation>
    </message>
    <message>
        <source>Tab indents; Ctrl+Tab moves the keyboard focus on.</source>
        <translation>Tab 键缩进；Ctrl+Tab 将键盘焦点移到下一个控件。</translation>
    </message>
    <message>
        <source>Type or paste code, open a file, or drop one here.</source>
        <translation>输入或粘贴代码、打开文件，或将文件拖放到这里。</translation>
    </message>
    <message>
        <source>Untitled</source>
        <translation>未命名</translation>
    </message>
    <message>
        <source>Describe the code to write first.</source>
        <translation>请先描述要编写的代码。</translation>
    </message>
    <message>
        <source>There is no code to work on: type, paste or open some first.</source>
        <translation>没有可处理的代码：请先输入、粘贴或打开代码。</translation>
    </message>
    <message>
        <source>Code copied to the clipboard</source>
        <translation>代码已复制到剪贴板</translation>
    </message>
    <message>
        <source>Applied; Ctrl+Z in the editor undoes it</source>
        <translation>已应用；在编辑器中按 Ctrl+Z 可撤销</translation>
    </message>
    <message>
        <source>Stop the task first, then open another.</source>
        <translation>请先停止当前任务，再打开其他任务。</translation>
    </message>
</context>
<context>
    <name>ContextMeter</name>
    <message>
        <source>Context used</source>
        <translation>已用上下文</translation>
    </message>
    <message>
        <source>How much of the model&apos;s context the chat uses</source>
        <translation>聊天占用了模型上下文的多少</translation>
    </message>
    <message>
        <source>{used} / {n_ctx} tokens</source>
        <translation>{used} / {n_ctx} token</translation>
    </message>
    <message>
        <source>%v / %m tokens</source>
        <translation>%v / %m token</translation>
    </message>
</context>
<context>
    <name>DiffView</name>
    <message>
        <source>Proposed change</source>
        <translation>建议的修改</translation>
    </message>
    <message>
        <source>Lines starting with − are removed, lines starting with + are added.</source>
        <translation>以 − 开头的行将被删除，以 + 开头的行将被添加。</translation>
    </message>
    <message>
        <source>&amp;Accept</source>
        <translation>接受(&amp;A)</translation>
    </message>
    <message>
        <source>Apply the change to the editor (Ctrl+Z in the editor undoes it)</source>
        <translation>将修改应用到编辑器（在编辑器中按 Ctrl+Z 可撤销）</translation>
    </message>
    <message>
        <source>Re&amp;ject</source>
        <translation>拒绝(&amp;J)</translation>
    </message>
    <message>
        <source>Leave the editor as it is</source>
        <translation>保持编辑器内容不变</translation>
    </message>
    <message>
        <source>Lines added: {added} · removed: {removed}</source>
        <translation>新增行：{added} · 删除行：{removed}</translation>
    </message>
</context>
<context>
    <name>DiscoverTab</name>
    <message>
        <source>&amp;Already on this computer (other apps)</source>
        <translation>本机已有（其他应用下载的）(&amp;A)</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Found in</source>
        <translation>位置来源</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Models found on this computer</source>
        <translation>在本机找到的模型</translation>
    </message>
    <message>
        <source>Use &amp;without copying</source>
        <translation>直接使用，不复制(&amp;W)</translation>
    </message>
    <message>
        <source>Add the selected model to Hearth; its file stays where it is</source>
        <translation>将所选模型加入 Hearth；文件保留在原处</translation>
    </message>
    <message>
        <source>&amp;Recommended models (fit for a {n_ctx}-token context)</source>
        <translation>推荐模型（按 {n_ctx} token 上下文评估是否适合）(&amp;R)</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <source>Good for</source>
        <translation>适合</translation>
    </message>
    <message>
        <source>Fit</source>
        <translation>适配</translation>
    </message>
    <message>
        <source>About</source>
        <translation>简介</translation>
    </message>
    <message>
        <source>Recommended models</source>
        <translation>推荐模型</translation>
    </message>
    <message>
        <source>Enter or double-click lists the model&apos;s files</source>
        <translation>按 Enter 或双击列出该模型的文件</translation>
    </message>
    <message>
        <source>&amp;Search Hugging Face:</source>
        <translation>搜索 Hugging Face(&amp;S)：</translation>
    </message>
    <message>
        <source>e.g. qwen2.5 coder</source>
        <translation>例如 qwen2.5 coder</translation>
    </message>
    <message>
        <source>Search Hugging Face</source>
        <translation>搜索 Hugging Face</translation>
    </message>
    <message>
        <source>Most downloaded</source>
        <translation>下载最多</translation>
    </message>
    <message>
        <source>Most liked</source>
        <translation>最受喜爱</translation>
    </message>
    <message>
        <source>Newest</source>
        <translation>最新</translation>
    </message>
    <message>
        <source>Sort by</source>
        <translation>排序方式</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <source>Repositories found</source>
        <translation>找到的仓库</translation>
    </message>
    <message>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <source>Files of the repository</source>
        <translation>仓库中的文件</translation>
    </message>
    <message>
        <source>Do&amp;wnload</source>
        <translation>下载(&amp;W)</translation>
    </message>
    <message>
        <source>Download the selected file; it is checked against the hub&apos;s sha256</source>
        <translation>下载所选文件；完成后会与 Hub 上的 sha256 核对</translation>
    </message>
    <message>
        <source>chat</source>
        <translation>聊天</translation>
    </message>
    <message>
        <source>summaries</source>
        <translation>摘要</translation>
    </message>
    <message>
        <source>code</source>
        <translation>代码</translation>
    </message>
    <message>
        <source>{repo} · {downloads} downloads · {likes} likes</source>
        <translation>{repo} · {downloads} 次下载 · {likes} 个赞</translation>
    </message>
    <message>
        <source>No GGUF models found.</source>
        <translation>没有找到 GGUF 模型。</translation>
    </message>
    <message>
        <source>{name} ({count} parts)</source>
        <translation>{name}（{count} 个分卷）</translation>
    </message>
    <message>
        <source>unknown ({reason})</source>
        <translation>未知（{reason}）</translation>
    </message>
    <message>
        <source>No models from other apps (LM Studio, Ollama, GPT4All, Jan, Hugging Face) found on this computer.</source>
        <translation>本机上没有找到其他应用（LM Studio、Ollama、GPT4All、Jan、Hugging Face）下载的模型。</translation>
    </message>
    <message>
        <source>Could not import {path}: {reason}</source>
        <translation>无法导入 {path}：{reason}</translation>
    </message>
    <message>
        <source>{name} is ready to use; its file stays where it is.</source>
        <translation>{name} 已可使用；文件保留在原处。</translation>
    </message>
</context>
<context>
    <name>DownloadMeter</name>
    <message>
        <source>Downloads</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>Downloading {count}: %p%</source>
        <translation>正在下载 {count} 个：%p%</translation>
    </message>
</context>
<context>
    <name>DownloadsTab</name>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Downloads</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>Nothing is downloading. Find a model in the Discover tab.</source>
        <translation>当前没有下载。可在“发现”页中查找模型。</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>暂停(&amp;P)</translation>
    </message>
    <message>
        <source>Res&amp;ume</source>
        <translation>继续(&amp;U)</translation>
    </message>
    <message>
        <source>&amp;Cancel download</source>
        <translation>取消下载(&amp;C)</translation>
    </message>
    <message>
        <source>Stop and delete what was downloaded</source>
        <translation>停止并删除已下载的部分</translation>
    </message>
    <message>
        <source>waiting</source>
        <translation>等待中</translation>
    </message>
    <message>
        <source>downloading</source>
        <translation>下载中</translation>
    </message>
    <message>
        <source>paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <source>checking the sha256</source>
        <translation>正在校验 sha256</translation>
    </message>
    <message>
        <source>done</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>{done} of {total}</source>
        <translation>{done} / {total}</translation>
    </message>
    <message>
        <source>{speed}/s</source>
        <translation>{speed}/秒</translation>
    </message>
    <message>
        <source>{time} left</source>
        <translation>剩余 {time}</translation>
    </message>
    <message>
        <source>Progress of {name}</source>
        <translation>{name} 的进度</translation>
    </message>
</context>
<context>
    <name>EditorFile</name>
    <message>
        <source>Unsaved changes</source>
        <translation>未保存的更改</translation>
    </message>
    <message>
        <source>{name} has changes that are not saved.</source>
        <translation>{name} 有尚未保存的更改。</translation>
    </message>
    <message>
        <source>The code</source>
        <translation>代码</translation>
    </message>
    <message>
        <source>Save them first?</source>
        <translation>要先保存吗？</translation>
    </message>
    <message>
        <source>Open a source file</source>
        <translation>打开源代码文件</translation>
    </message>
    <message>
        <source>Drop a file here, not a folder.</source>
        <translation>请拖放文件，而不是文件夹。</translation>
    </message>
    <message>
        <source>it is over 4 MB, too big for the code editor</source>
        <translation>文件超过 4 MB，代码编辑器无法打开这么大的文件</translation>
    </message>
    <message>
        <source>it is not a text file (binary, or not UTF-8)</source>
        <translation>这不是文本文件（是二进制文件，或不是 UTF-8 编码）</translation>
    </message>
    <message>
        <source>Could not open {name}: {reason}.</source>
        <translation>无法打开 {name}：{reason}。</translation>
    </message>
    <message>
        <source>Opened {path}</source>
        <translation>已打开 {path}</translation>
    </message>
    <message>
        <source>Save the code</source>
        <translation>保存代码</translation>
    </message>
    <message>
        <source>Saved {path}</source>
        <translation>已保存 {path}</translation>
    </message>
    <message>
        <source>Could not save {path}: {reason}</source>
        <translation>无法保存 {path}：{reason}</translation>
    </message>
</context>
<context>
    <name>ErrorReporter</name>
    <message>
        <source>Hearth</source>
        <translation>Hearth</translation>
    </message>
    <message>
        <source>Something went wrong: {error}</source>
        <translation>出错了：{error}</translation>
    </message>
    <message>
        <source>Hearth keeps running. The details are in its log file, {path}</source>
        <translation>Hearth 仍在运行。详细信息见日志文件 {path}</translation>
    </message>
</context>
<context>
    <name>HelpDialog</name>
    <message>
        <source>Guides</source>
        <translation>指南</translation>
    </message>
    <message>
        <source>Choose a guide</source>
        <translation>选择一篇指南</translation>
    </message>
    <message>
        <source>Guide</source>
        <translation>指南内容</translation>
    </message>
    <message>
        <source>Choosing a model</source>
        <translation>选择模型</translation>
    </message>
    <message>
        <source>Using the GPU</source>
        <translation>使用 GPU</translation>
    </message>
    <message>
        <source>Troubleshooting</source>
        <translation>故障排除</translation>
    </message>
    <message>
        <source>{guide} — Hearth Help</source>
        <translation>{guide} — Hearth 帮助</translation>
    </message>
    <message>
        <source>This guide is missing from this installation of Hearth. Reinstalling Hearth brings it back.</source>
        <translation>这份 Hearth 安装中缺少此指南。重新安装 Hearth 即可恢复。</translation>
    </message>
</context>
<context>
    <name>InstalledTab</name>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Context</source>
        <translation>上下文</translation>
    </message>
    <message>
        <source>Location</source>
        <translation>位置</translation>
    </message>
    <message>
        <source>Installed models</source>
        <translation>已安装的模型</translation>
    </message>
    <message>
        <source>&amp;Load</source>
        <translation>加载(&amp;L)</translation>
    </message>
    <message>
        <source>Load the selected model (Enter)</source>
        <translation>加载所选模型（Enter）</translation>
    </message>
    <message>
        <source>&amp;Remove…</source>
        <translation>移除(&amp;R)…</translation>
    </message>
    <message>
        <source>Delete a downloaded model, or forget an imported one (its file stays)</source>
        <translation>删除已下载的模型，或移除导入的模型（其文件保留）</translation>
    </message>
    <message>
        <source>Show in &amp;folder</source>
        <translation>在文件夹中显示(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Import a GGUF file…</source>
        <translation>导入 GGUF 文件(&amp;I)…</translation>
    </message>
    <message>
        <source>Use a .gguf file where it is, without copying it</source>
        <translation>直接使用原处的 .gguf 文件，不复制</translation>
    </message>
    <message>
        <source>Models folder: {folder}</source>
        <translation>模型文件夹：{folder}</translation>
    </message>
    <message>
        <source>Imported (linked, not copied): {path}</source>
        <translation>已导入（链接，未复制）：{path}</translation>
    </message>
    <message>
        <source>{name} (damaged)</source>
        <translation>{name}（已损坏）</translation>
    </message>
    <message>
        <source>Import a GGUF model</source>
        <translation>导入 GGUF 模型</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <source>Could not import {path}: {reason}</source>
        <translation>无法导入 {path}：{reason}</translation>
    </message>
    <message>
        <source>Imported {name}; the file stays where it is.</source>
        <translation>已导入 {name}；文件保留在原处。</translation>
    </message>
    <message>
        <source>Forget {name}? The file stays where it is: {path}</source>
        <translation>移除 {name}？文件会保留在原处：{path}</translation>
    </message>
    <message>
        <source>{name} was not downloaded by Hearth (it was put in the models folder). Delete the file {path}?</source>
        <translation>{name} 不是 Hearth 下载的（是被放进模型文件夹的）。要删除文件 {path} 吗？</translation>
    </message>
    <message>
        <source>Delete {name} ({size}) from this computer?</source>
        <translation>从本机删除 {name}（{size}）？</translation>
    </message>
    <message>
        <source>Remove model</source>
        <translation>移除模型</translation>
    </message>
    <message>
        <source>Could not remove {name}: {reason}</source>
        <translation>无法移除 {name}：{reason}</translation>
    </message>
</context>
<context>
    <name>MainMenus</name>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Models</source>
        <translation>模型(&amp;M)</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;New chat</source>
        <translation>新建聊天(&amp;N)</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;Chat</source>
        <translation>聊天(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Summarize</source>
        <translation>摘要(&amp;S)</translation>
    </message>
    <message>
        <source>C&amp;ode</source>
        <translation>代码(&amp;O)</translation>
    </message>
    <message>
        <source>Search &amp;conversations</source>
        <translation>搜索对话(&amp;C)</translation>
    </message>
    <message>
        <source>Chat &amp;options</source>
        <translation>聊天选项(&amp;O)</translation>
    </message>
    <message>
        <source>&amp;Models…</source>
        <translation>管理模型(&amp;M)…</translation>
    </message>
    <message>
        <source>Open models &amp;folder</source>
        <translation>打开模型文件夹(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;API server…</source>
        <translation>API 服务器(&amp;A)…</translation>
    </message>
    <message>
        <source>Choosing a &amp;model</source>
        <translation>选择模型(&amp;M)</translation>
    </message>
    <message>
        <source>Using the &amp;GPU</source>
        <translation>使用 GPU(&amp;G)</translation>
    </message>
    <message>
        <source>&amp;Troubleshooting</source>
        <translation>故障排除(&amp;T)</translation>
    </message>
    <message>
        <source>&amp;About Hearth</source>
        <translation>关于 Hearth(&amp;A)</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Hearth</source>
        <translation>Hearth</translation>
    </message>
    <message>
        <source>Conversations are not being saved. {reason}</source>
        <translation>对话没有被保存。{reason}</translation>
    </message>
    <message>
        <source>No model is installed. Reinstall Hearth, or add a GGUF model to {folder}.</source>
        <translation>没有安装任何模型。请重新安装 Hearth，或将 GGUF 模型放入 {folder}。</translation>
    </message>
    <message>
        <source>Could not load {name}: {reason}</source>
        <translation>无法加载 {name}：{reason}</translation>
    </message>
    <message>
        <source>The remote endpoint&apos;s models are not listed: {reason}</source>
        <translation>未列出远程端点的模型：{reason}</translation>
    </message>
    <message>
        <source>Could not save the settings: {reason}</source>
        <translation>无法保存设置：{reason}</translation>
    </message>
    <message>
        <source>Could not keep the remote endpoint&apos;s key: {reason}</source>
        <translation>无法保存远程端点的密钥：{reason}</translation>
    </message>
    <message>
        <source>The new settings apply when the model is next loaded.</source>
        <translation>新设置将在下次加载模型时生效。</translation>
    </message>
    <message>
        <source>Stop the answer first, then open another conversation.</source>
        <translation>请先停止当前回答，再打开其他对话。</translation>
    </message>
    <message>
        <source>Could not save the chat options: {reason}</source>
        <translation>无法保存聊天选项：{reason}</translation>
    </message>
    <message>
        <source>Could not save the model&apos;s settings: {reason}</source>
        <translation>无法保存模型的设置：{reason}</translation>
    </message>
    <message>
        <source>Downloaded and verified {name}</source>
        <translation>已下载并校验 {name}</translation>
    </message>
</context>
<context>
    <name>MemoryLabel</name>
    <message>
        <source>Memory used</source>
        <translation>内存占用</translation>
    </message>
    <message>
        <source>Memory used by Hearth and its engine</source>
        <translation>Hearth 及其引擎占用的内存</translation>
    </message>
    <message>
        <source>Memory {total}</source>
        <translation>内存 {total}</translation>
    </message>
    <message>
        <source>Hearth {app} · engine {engine}</source>
        <translation>Hearth {app} · 引擎 {engine}</translation>
    </message>
</context>
<context>
    <name>MessageBar</name>
    <message>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Dismiss message</source>
        <translation>关闭消息</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>消息</translation>
    </message>
</context>
<context>
    <name>ModelAdvice</name>
    <message>
        <source>Open the model ma&amp;nager…</source>
        <translation>打开模型管理器(&amp;N)…</translation>
    </message>
</context>
<context>
    <name>ModelLabel</name>
    <message>
        <source>Loaded model</source>
        <translation>已加载的模型</translation>
    </message>
</context>
<context>
    <name>ModelPicker</name>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>&amp;Model:</source>
        <translation>模型(&amp;M)：</translation>
    </message>
    <message>
        <source>The model that answers</source>
        <translation>回答问题的模型</translation>
    </message>
    <message>
        <source>{name} (starter)</source>
        <translation>{name}（入门模型）</translation>
    </message>
    <message>
        <source>{name} (damaged)</source>
        <translation>{name}（已损坏）</translation>
    </message>
    <message>
        <source>{name} (remote)</source>
        <translation>{name}（远程）</translation>
    </message>
    <message>
        <source>Served by {host}</source>
        <translation>由 {host} 提供</translation>
    </message>
</context>
<context>
    <name>ModelSettingsBox</name>
    <message>
        <source>This model</source>
        <translation>此模型</translation>
    </message>
    <message>
        <source>Save for this model</source>
        <translation>为此模型保存</translation>
    </message>
    <message>
        <source>Save the settings for this model</source>
        <translation>为此模型保存设置</translation>
    </message>
    <message>
        <source>Keep the sampling values and the system prompt shown here for this model: they come back whenever it is loaded</source>
        <translation>为此模型保留这里显示的采样值和系统提示词：每次加载它时都会恢复</translation>
    </message>
    <message>
        <source>Reset to defaults</source>
        <translation>恢复默认</translation>
    </message>
    <message>
        <source>Reset this model&apos;s settings to defaults</source>
        <translation>将此模型的设置恢复为默认</translation>
    </message>
    <message>
        <source>Forget this model&apos;s own settings: it uses the defaults again</source>
        <translation>清除此模型自己的设置：它将重新使用默认值</translation>
    </message>
    <message>
        <source>Conte&amp;xt size:</source>
        <translation>上下文大小(&amp;X)：</translation>
    </message>
    <message>
        <source>This model&apos;s context size</source>
        <translation>此模型的上下文大小</translation>
    </message>
    <message>
        <source>How many tokens of conversation this model keeps in mind. Default uses the size in Settings. The model is loaded again to apply it.</source>
        <translation>此模型能记住多少个词元的对话。“默认”使用设置中的大小。更改后会重新加载模型。</translation>
    </message>
    <message>
        <source>Default</source>
        <translation>默认</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> 个词元</translation>
    </message>
    <message>
        <source>Chat &amp;template:</source>
        <translation>对话模板(&amp;T)：</translation>
    </message>
    <message>
        <source>This model&apos;s chat template</source>
        <translation>此模型的对话模板</translation>
    </message>
    <message>
        <source>How the conversation is written for the model. Keep the model&apos;s own unless its answers come out garbled or never stop.</source>
        <translation>对话以何种格式交给模型。除非回答出现乱码或停不下来，否则请保留模型自带的模板。</translation>
    </message>
    <message>
        <source>&amp;GPU offload:</source>
        <translation>GPU 卸载(&amp;G)：</translation>
    </message>
    <message>
        <source>This model&apos;s GPU offload</source>
        <translation>此模型的 GPU 卸载</translation>
    </message>
    <message>
        <source>How much of this model runs on the GPU. Default uses Settings.</source>
        <translation>此模型有多少部分在 GPU 上运行。“默认”使用设置中的值。</translation>
    </message>
    <message>
        <source>T&amp;hreads:</source>
        <translation>线程数(&amp;H)：</translation>
    </message>
    <message>
        <source>This model&apos;s threads</source>
        <translation>此模型的线程数</translation>
    </message>
    <message>
        <source>CPU threads for this model. Default uses Settings, then this computer.</source>
        <translation>此模型使用的 CPU 线程数。“默认”先用设置中的值，再按本机情况决定。</translation>
    </message>
    <message>
        <source>&amp;Backend:</source>
        <translation>后端(&amp;B)：</translation>
    </message>
    <message>
        <source>This model&apos;s backend</source>
        <translation>此模型的后端</translation>
    </message>
    <message>
        <source>Which engine runs this model. Default uses Settings.</source>
        <translation>由哪个引擎运行此模型。“默认”使用设置中的值。</translation>
    </message>
    <message>
        <source>Automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>Off (CPU only)</source>
        <translation>关闭（仅 CPU）</translation>
    </message>
    <message>
        <source>All layers</source>
        <translation>全部层</translation>
    </message>
    <message>
        <source>{count} layers</source>
        <translation>{count} 层</translation>
    </message>
    <message>
        <source>The model&apos;s own</source>
        <translation>模型自带</translation>
    </message>
    <message>
        <source>From a file…</source>
        <translation>从文件选择…</translation>
    </message>
    <message>
        <source>This model&apos;s own value</source>
        <translation>此模型自己的值</translation>
    </message>
    <message>
        <source>Recommended by the model&apos;s publisher</source>
        <translation>模型发布者推荐的值</translation>
    </message>
    <message>
        <source>Choose a chat template</source>
        <translation>选择对话模板</translation>
    </message>
    <message>
        <source>Jinja templates (*.jinja *.jinja2 *.j2 *.txt);;All files (*)</source>
        <translation>Jinja 模板 (*.jinja *.jinja2 *.j2 *.txt);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Load a model to give it its own settings.</source>
        <translation>加载一个模型后即可为它单独设置。</translation>
    </message>
    <message>
        <source>context size</source>
        <translation>上下文大小</translation>
    </message>
    <message>
        <source>GPU offload</source>
        <translation>GPU 卸载</translation>
    </message>
    <message>
        <source>threads</source>
        <translation>线程数</translation>
    </message>
    <message>
        <source>backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>top-p</source>
        <translation>top-p</translation>
    </message>
    <message>
        <source>top-k</source>
        <translation>top-k</translation>
    </message>
    <message>
        <source>min-p</source>
        <translation>min-p</translation>
    </message>
    <message>
        <source>repeat penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <source>max tokens</source>
        <translation>最大 token 数</translation>
    </message>
    <message>
        <source>system prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <source>thinking</source>
        <translation>思考</translation>
    </message>
    <message>
        <source>chat template</source>
        <translation>对话模板</translation>
    </message>
    <message>
        <source>{model} has its own {names} (marked ●).</source>
        <translation>{model} 有自己的{names}（标记为 ●）。</translation>
    </message>
    <message>
        <source>{model} uses the default settings.</source>
        <translation>{model} 使用默认设置。</translation>
    </message>
    <message>
        <source>Its publisher recommends the {names} shown (marked ○).</source>
        <translation>其发布者推荐所显示的{names}（标记为 ○）。</translation>
    </message>
</context>
<context>
    <name>ModelsDialog</name>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>&amp;Installed</source>
        <translation>已安装(&amp;I)</translation>
    </message>
    <message>
        <source>&amp;Discover</source>
        <translation>发现(&amp;D)</translation>
    </message>
    <message>
        <source>Do&amp;wnloads</source>
        <translation>下载(&amp;W)</translation>
    </message>
</context>
<context>
    <name>Notices</name>
    <message>
        <source>; </source>
        <translation>；</translation>
    </message>
    <message>
        <source>{n_threads} threads</source>
        <translation>{n_threads} 个线程</translation>
    </message>
    <message>
        <source>{n_threads} thread</source>
        <translation>{n_threads} 个线程</translation>
    </message>
    <message>
        <source>{n_threads} threads ({simd})</source>
        <translation>{n_threads} 个线程（{simd}）</translation>
    </message>
    <message>
        <source>{n_threads} thread ({simd})</source>
        <translation>{n_threads} 个线程（{simd}）</translation>
    </message>
    <message>
        <source>llama.cpp is not installed</source>
        <translation>未安装 llama.cpp</translation>
    </message>
    <message>
        <source>llama.cpp was built without GPU support</source>
        <translation>llama.cpp 构建时未启用 GPU 支持</translation>
    </message>
    <message>
        <source>{size} free VRAM</source>
        <translation>{size} 可用显存</translation>
    </message>
    <message>
        <source>{size} free GPU memory</source>
        <translation>{size} 可用 GPU 内存</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>CPU via PyTorch: GPU offload is turned off in Settings; {cpu}</source>
        <translation>CPU（通过 PyTorch）：“设置”中关闭了 GPU 卸载；{cpu}</translation>
    </message>
    <message>
        <source>CUDA via PyTorch: {gpu} (set in Settings)</source>
        <translation>CUDA（通过 PyTorch）：{gpu}（在“设置”中指定）</translation>
    </message>
    <message>
        <source>CUDA via PyTorch: {why}, so the PyTorch backend uses your {gpu}</source>
        <translation>CUDA（通过 PyTorch）：{why}，因此由 PyTorch 后端使用你的 {gpu}</translation>
    </message>
    <message>
        <source>MPS via PyTorch: {gpu} (set in Settings)</source>
        <translation>MPS（通过 PyTorch）：{gpu}（在“设置”中指定）</translation>
    </message>
    <message>
        <source>MPS via PyTorch: {why}, so the PyTorch backend uses your {gpu} GPU</source>
        <translation>MPS（通过 PyTorch）：{why}，因此由 PyTorch 后端使用你的 {gpu} GPU</translation>
    </message>
    <message>
        <source>CPU via PyTorch: PyTorch cannot use a GPU here; {cpu}</source>
        <translation>CPU（通过 PyTorch）：PyTorch 在这台电脑上无法使用 GPU；{cpu}</translation>
    </message>
    <message>
        <source>Remote: {model} on {host}</source>
        <translation>远程：{host} 上的 {model}</translation>
    </message>
    <message>
        <source>{reason} (PyTorch is not installed, so llama.cpp is used)</source>
        <translation>{reason}（未安装 PyTorch，因此使用 llama.cpp）</translation>
    </message>
    <message>
        <source>CPU: the PyTorch backend could not load this model; llama.cpp runs it</source>
        <translation>CPU：PyTorch 后端无法加载此模型，改由 llama.cpp 运行</translation>
    </message>
    <message>
        <source>{reason} — {memory}</source>
        <translation>{reason}（{memory}）</translation>
    </message>
    <message>
        <source>{weights} of {format} weights + {kv} KV cache on {device}</source>
        <translation>{format} 权重 {weights} + KV 缓存 {kv}，位于 {device}</translation>
    </message>
    <message>
        <source>CPU: llama.cpp is not installed; {cpu}</source>
        <translation>CPU：未安装 llama.cpp；{cpu}</translation>
    </message>
    <message>
        <source>CPU: GPU offload is turned off in Settings; {cpu}</source>
        <translation>CPU：“设置”中关闭了 GPU 卸载；{cpu}</translation>
    </message>
    <message>
        <source>CPU: GPU offload is set to 0 layers in Settings; {cpu}</source>
        <translation>CPU：“设置”中的 GPU 卸载设为 0 层；{cpu}</translation>
    </message>
    <message>
        <source>CPU: no supported GPU found; {cpu}</source>
        <translation>CPU：未找到受支持的 GPU；{cpu}</translation>
    </message>
    <message>
        <source>CPU: llama.cpp was built with {backend} but cannot use your {gpu} (check the NVIDIA driver); {cpu}</source>
        <translation>CPU：llama.cpp 以 {backend} 构建，却无法使用你的 {gpu}（请检查 NVIDIA 驱动）；{cpu}</translation>
    </message>
    <message>
        <source>CPU: llama.cpp was built with {backend} but cannot use your {gpu} (check the GPU driver); {cpu}</source>
        <translation>CPU：llama.cpp 以 {backend} 构建，却无法使用你的 {gpu}（请检查 GPU 驱动）；{cpu}</translation>
    </message>
    <message>
        <source>CPU: llama.cpp was built without GPU support; reinstall it with {command} to use your {gpu}</source>
        <translation>CPU：llama.cpp 构建时未启用 GPU 支持；要使用你的 {gpu}，请用以下命令重新安装：{command}</translation>
    </message>
    <message>
        <source>CPU: llama.cpp was built with {backend}, but Hearth cannot measure that GPU&apos;s memory; set GPU offload to a number of layers in Settings to use it; {cpu}</source>
        <translation>CPU：llama.cpp 以 {backend} 构建，但 Hearth 无法测量该 GPU 的显存；要使用它，请在“设置”中把 GPU 卸载设为具体层数；{cpu}</translation>
    </message>
    <message>
        <source>CPU: the model does not fit in the {free} on {gpu}; {cpu}</source>
        <translation>CPU：{gpu} 上的 {free} 放不下此模型；{cpu}</translation>
    </message>
    <message>
        <source>{backend}: {layers} layers on GPU (set in Settings)</source>
        <translation>{backend}：{layers} 层在 GPU 上（在“设置”中指定）</translation>
    </message>
    <message>
        <source>{backend}: {gpu}, {layers} layers on GPU (set in Settings)</source>
        <translation>{backend}：{gpu}，{layers} 层在 GPU 上（在“设置”中指定）</translation>
    </message>
    <message>
        <source>{backend}: {gpu}, all layers on GPU</source>
        <translation>{backend}：{gpu}，全部层都在 GPU 上</translation>
    </message>
    <message>
        <source>{backend}: {gpu}, {total}/{total} layers on GPU</source>
        <translation>{backend}：{gpu}，{total}/{total} 层在 GPU 上</translation>
    </message>
    <message>
        <source>{backend}: {gpu}, {layers}/{total} layers on GPU ({free}; the rest runs on the CPU)</source>
        <translation>{backend}：{gpu}，{layers}/{total} 层在 GPU 上（{free}；其余在 CPU 上运行）</translation>
    </message>
    <message>
        <source>The context size {wanted:,} is larger than the {trained:,} tokens this model was trained for; using {trained:,}.</source>
        <translation>上下文大小 {wanted:,} 超过了此模型训练时的 {trained:,} 个 token；改用 {trained:,}。</translation>
    </message>
    <message>
        <source>The context size {wanted:,} needs about {needed} with this model, but only {free} of memory is free; using {fitted:,}.</source>
        <translation>此模型在上下文大小 {wanted:,} 下约需 {needed}，但可用内存只有 {free}；改用 {fitted:,}。</translation>
    </message>
    <message>
        <source>{threads:,} threads is more than the {cores} logical cores of this computer; using {cores}.</source>
        <translation>{threads:,} 个线程超过了这台电脑的 {cores} 个逻辑核心；改用 {cores} 个。</translation>
    </message>
    <message>
        <source>GPU offload {value} in Settings is not &apos;auto&apos;, &apos;off&apos; or a number of layers; using &apos;auto&apos;.</source>
        <translation>“设置”中的 GPU 卸载值 {value} 不是 &apos;auto&apos;、&apos;off&apos; 或层数；改用 &apos;auto&apos;。</translation>
    </message>
    <message>
        <source>Backend {value} in Settings is not &apos;auto&apos;, &apos;llamacpp&apos; or &apos;torch&apos;; using &apos;auto&apos;.</source>
        <translation>“设置”中的后端 {value} 不是 &apos;auto&apos;、&apos;llamacpp&apos; 或 &apos;torch&apos;；改用 &apos;auto&apos;。</translation>
    </message>
    <message>
        <source>The PyTorch backend is chosen in Settings, but PyTorch is not installed; using llama.cpp instead.</source>
        <translation>“设置”中选择了 PyTorch 后端，但未安装 PyTorch；改用 llama.cpp。</translation>
    </message>
    <message>
        <source>This model needs about {needed} but only {free} of memory is free; it may not load or may be very slow.</source>
        <translation>此模型约需 {needed}，但可用内存只有 {free}；它可能无法加载，或运行得很慢。</translation>
    </message>
    <message>
        <source>llama.cpp (llama-cpp-python) could not be loaded; reinstall it with {command}.</source>
        <translation>无法加载 llama.cpp（llama-cpp-python）；请用以下命令重新安装：{command}。</translation>
    </message>
    <message>
        <source>llama.cpp (llama-cpp-python) could not be loaded ({error}); reinstall it with {command}.</source>
        <translation>无法加载 llama.cpp（llama-cpp-python）：{error}；请用以下命令重新安装：{command}。</translation>
    </message>
    <message>
        <source>GPU offload is set to {layers} layers in Settings, but llama.cpp cannot use a GPU here; running on the CPU.</source>
        <translation>“设置”中的 GPU 卸载设为 {layers} 层，但 llama.cpp 在这台电脑上无法使用 GPU；改在 CPU 上运行。</translation>
    </message>
    <message>
        <source>GPU offload is set to {layers} layers in Settings, but only about {fits} fit in {free}; if loading fails, lower GPU offload in Settings.</source>
        <translation>“设置”中的 GPU 卸载设为 {layers} 层，但 {free} 只能放下约 {fits} 层；如果加载失败，请在“设置”中调低 GPU 卸载。</translation>
    </message>
    <message>
        <source>The PyTorch backend does not run {architecture} models (it runs {supported}); llama.cpp runs this one.</source>
        <translation>PyTorch 后端不能运行 {architecture} 模型（它只支持 {supported}）；此模型由 llama.cpp 运行。</translation>
    </message>
    <message>
        <source>PyTorch weight format {value} is not one of {formats}; using &apos;auto&apos;.</source>
        <translation>PyTorch 权重格式 {value} 不在 {formats} 之中；改用 &apos;auto&apos;。</translation>
    </message>
    <message>
        <source>The GPU could not take this model ({error}); it runs on the CPU.</source>
        <translation>GPU 无法容纳此模型（{error}）；改在 CPU 上运行。</translation>
    </message>
    <message>
        <source>PyTorch could not be imported ({error}); llama.cpp runs this model on the CPU. Install it with {command}.</source>
        <translation>无法导入 PyTorch（{error}）；此模型由 llama.cpp 在 CPU 上运行。可用以下命令安装：{command}。</translation>
    </message>
    <message>
        <source>The PyTorch backend could not load this model ({error}); llama.cpp runs it on the CPU.</source>
        <translation>PyTorch 后端无法加载此模型（{error}）；改由 llama.cpp 在 CPU 上运行。</translation>
    </message>
    <message>
        <source>This model has no chat template; Hearth uses its plain fallback format.</source>
        <translation>此模型没有聊天模板；Hearth 使用简单的后备格式。</translation>
    </message>
    <message>
        <source>{detail} and uses its plain chat format instead.</source>
        <translation>Hearth 拒绝了模型的聊天模板，改用简单聊天格式（{detail}）。</translation>
    </message>
    <message>
        <source>The model&apos;s chat template was refused ({error}); Hearth uses its plain chat format instead.</source>
        <translation>模型的聊天模板被拒绝（{error}）；Hearth 改用简单聊天格式。</translation>
    </message>
    <message>
        <source>{detail} and uses its plain chat format for this model from now on. Send your message again.</source>
        <translation>Hearth 拒绝了模型的聊天模板，此后对该模型改用简单聊天格式（{detail}）。请重新发送消息。</translation>
    </message>
    <message>
        <source>Fits on GPU</source>
        <translation>可完全放入 GPU</translation>
    </message>
    <message>
        <source>Fits in memory</source>
        <translation>可放入内存</translation>
    </message>
    <message>
        <source>Too large</source>
        <translation>太大</translation>
    </message>
    <message>
        <source>Hearth&apos;s settings file could not be read ({problem}), so the default settings are used, with offline mode on: turn it off in Settings to allow downloads.{kept}</source>
        <translation>无法读取 Hearth 的设置文件（{problem}），因此使用默认设置，并开启离线模式：如需下载，请在“设置”中关闭离线模式。{kept}</translation>
    </message>
    <message>
        <source>Some settings were invalid and were reset: {problems}. Check them in Settings.{kept}</source>
        <translation>部分设置无效，已重置：{problems}。请在“设置”中检查。{kept}</translation>
    </message>
    <message>
        <source> The file as it was is kept as {path}.</source>
        <translation>原文件保存为 {path}。</translation>
    </message>
    <message>
        <source>{name} = {value} {requirement}; {instead}</source>
        <translation>{name} = {value}：{requirement}，{instead}</translation>
    </message>
    <message>
        <source>using the default, {default}</source>
        <translation>改用默认值 {default}</translation>
    </message>
    <message>
        <source>keeping offline mode on</source>
        <translation>保持离线模式开启</translation>
    </message>
    <message>
        <source>read as version 1</source>
        <translation>按版本 1 读取</translation>
    </message>
    <message>
        <source>must be a whole number</source>
        <translation>必须是整数</translation>
    </message>
    <message>
        <source>must be one of {choices}</source>
        <translation>必须是以下之一：{choices}</translation>
    </message>
    <message>
        <source>must be a string</source>
        <translation>必须是字符串</translation>
    </message>
    <message>
        <source>must be &apos;auto&apos;, &apos;off&apos; or a number of layers</source>
        <translation>必须是 &apos;auto&apos;、&apos;off&apos; 或层数</translation>
    </message>
    <message>
        <source>must be a number of layers from -1 (all) to {most}</source>
        <translation>必须是 -1（全部）到 {most} 之间的层数</translation>
    </message>
    <message>
        <source>must be 0 (automatic) or a whole number of tokens from {least:,} to {most:,}</source>
        <translation>必须为 0（自动），或 {least:,} 到 {most:,} 之间的 token 数</translation>
    </message>
    <message>
        <source>must be 0 (automatic) to {most} (the logical cores of this computer)</source>
        <translation>必须为 0（自动）到 {most}（这台电脑的逻辑核心数）</translation>
    </message>
    <message>
        <source>must be true or false</source>
        <translation>必须是 true 或 false</translation>
    </message>
    <message>
        <source>must be at most {most:,} characters, with no NUL character</source>
        <translation>最多 {most:,} 个字符，且不能含 NUL 字符</translation>
    </message>
    <message>
        <source>must be 1 to {most}</source>
        <translation>必须为 1 到 {most}</translation>
    </message>
    <message>
        <source>must be an object</source>
        <translation>必须是对象</translation>
    </message>
    <message>
        <source>Showing the first {shown} of {found:,} GGUF models in {repo}.</source>
        <translation>只显示 {repo} 中 {found:,} 个 GGUF 模型的前 {shown} 个。</translation>
    </message>
    <message>
        <source>Only the first {read:,} files of {repo} were read ({reason}); look for a file by its exact name on the hub&apos;s website.</source>
        <translation>只读取了 {repo} 的前 {read:,} 个文件（{reason}）；请在 Hugging Face 网站上按确切文件名查找。</translation>
    </message>
    <message>
        <source>Hearth reads at most {limit:,} files of a listing</source>
        <translation>Hearth 每个列表最多读取 {limit:,} 个文件</translation>
    </message>
    <message>
        <source>the rest could not be read</source>
        <translation>其余部分无法读取</translation>
    </message>
    <message>
        <source>its next page is on another host</source>
        <translation>下一页位于另一台主机上</translation>
    </message>
    <message>
        <source>The history database {path} is a folder, not a file. Move or rename that folder, and Hearth starts a new database.</source>
        <translation>历史数据库 {path} 是一个文件夹，而不是文件。请移走或重命名该文件夹，Hearth 会新建一个数据库。</translation>
    </message>
    <message>
        <source>The history database {path} was written by a newer Hearth (schema {version}; this one knows {known}). Run the newer Hearth, or update this one.</source>
        <translation>历史数据库 {path} 由更新版本的 Hearth 写入（架构版本 {version}；本版本只支持到 {known}）。请运行较新的 Hearth，或更新当前版本。</translation>
    </message>
    <message>
        <source>The history database {path} cannot be used: it is damaged or is not a database ({detail}). Move it aside, and Hearth starts a new one.</source>
        <translation>历史数据库 {path} 无法使用：它已损坏或不是数据库（{detail}）。请把它移到别处，Hearth 会新建一个。</translation>
    </message>
    <message>
        <source>The history database {path} is in use by another program ({detail}). Close that program (or the other Hearth using this folder), then restart Hearth.</source>
        <translation>历史数据库 {path} 正被另一个程序使用（{detail}）。请关闭该程序（或使用此文件夹的另一个 Hearth），然后重启 Hearth。</translation>
    </message>
    <message>
        <source>The disk that holds the history database {path} is full. Free some space, then restart Hearth.</source>
        <translation>存放历史数据库 {path} 的磁盘已满。请释放一些空间，然后重启 Hearth。</translation>
    </message>
    <message>
        <source>Hearth cannot write to its history database {path} ({detail}). Make the file and its folder writable by you (check their owner and permissions, and that the disk is not mounted read-only), then restart Hearth.</source>
        <translation>Hearth 无法写入其历史数据库 {path}（{detail}）。请让你对该文件及其文件夹有写权限（检查所有者和权限，并确认磁盘不是以只读方式挂载），然后重启 Hearth。</translation>
    </message>
    <message>
        <source>Hearth cannot read or write its history database {path} ({detail}). Check the disk, then restart Hearth.</source>
        <translation>Hearth 无法读写其历史数据库 {path}（{detail}）。请检查磁盘，然后重启 Hearth。</translation>
    </message>
</context>
<context>
    <name>Pane</name>
    <message>
        <source>Could not save to the history database: {reason}</source>
        <translation>无法保存到历史数据库：{reason}</translation>
    </message>
</context>
<context>
    <name>PlanLabel</name>
    <message>
        <source>Starting the engine…</source>
        <translation>正在启动引擎…</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>Loading {name}…</source>
        <translation>正在加载 {name}…</translation>
    </message>
    <message>
        <source>Restarting the engine…</source>
        <translation>正在重启引擎…</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>No model</source>
        <translation>没有模型</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>&amp;Models folder:</source>
        <translation>模型文件夹(&amp;M)：</translation>
    </message>
    <message>
        <source>Models folder</source>
        <translation>模型文件夹</translation>
    </message>
    <message>
        <source>Where Hearth looks for GGUF models. Leave empty for the default folder.</source>
        <translation>Hearth 查找 GGUF 模型的位置。留空则使用默认文件夹。</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>浏览(&amp;B)…</translation>
    </message>
    <message>
        <source>Choose the models folder</source>
        <translation>选择模型文件夹</translation>
    </message>
    <message>
        <source>Largest &amp;document:</source>
        <translation>最大文档(&amp;D)：</translation>
    </message>
    <message>
        <source> MB</source>
        <translation> MB</translation>
    </message>
    <message>
        <source>Largest document to summarize, in MB</source>
        <translation>可摘要的最大文档（MB）</translation>
    </message>
    <message>
        <source>Summarize refuses larger files before reading them.</source>
        <translation>更大的文件在读取前即被拒绝摘要。</translation>
    </message>
    <message>
        <source>&amp;Threads:</source>
        <translation>线程数(&amp;T)：</translation>
    </message>
    <message>
        <source>Automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>Threads</source>
        <translation>线程数</translation>
    </message>
    <message>
        <source>CPU threads used to generate text. Automatic lets Hearth choose.</source>
        <translation>生成文本所用的 CPU 线程数。选“自动”则由 Hearth 决定。</translation>
    </message>
    <message>
        <source>&amp;GPU offload:</source>
        <translation>GPU 卸载(&amp;G)：</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Layers</source>
        <translation>指定层数</translation>
    </message>
    <message>
        <source>GPU offload</source>
        <translation>GPU 卸载</translation>
    </message>
    <message>
        <source>How much of the model runs on the graphics card. Automatic fits it to memory.</source>
        <translation>模型有多少部分在显卡上运行。“自动”会按显存大小来安排。</translation>
    </message>
    <message>
        <source>La&amp;yers:</source>
        <translation>层数(&amp;Y)：</translation>
    </message>
    <message>
        <source>All</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>GPU layers</source>
        <translation>GPU 层数</translation>
    </message>
    <message>
        <source>How many of the model&apos;s layers run on the GPU.</source>
        <translation>模型有多少层在 GPU 上运行。</translation>
    </message>
    <message>
        <source>How many of the model&apos;s {count} layers run on the GPU.</source>
        <translation>模型的 {count} 层中有多少层在 GPU 上运行。</translation>
    </message>
    <message>
        <source>Conte&amp;xt size:</source>
        <translation>上下文大小(&amp;X)：</translation>
    </message>
    <message>
        <source>Context size in tokens</source>
        <translation>上下文大小（token 数）</translation>
    </message>
    <message>
        <source>How many tokens of conversation the model keeps in mind. Larger sizes need more memory.</source>
        <translation>模型能记住多少个 token 的对话内容。越大需要的内存越多。</translation>
    </message>
    <message>
        <source>&amp;When the context is full:</source>
        <translation>上下文满时(&amp;W)：</translation>
    </message>
    <message>
        <source>Keep the newest messages</source>
        <translation>保留最新的消息</translation>
    </message>
    <message>
        <source>Stop and say so</source>
        <translation>停止并提示</translation>
    </message>
    <message>
        <source>When the context is full</source>
        <translation>上下文满时</translation>
    </message>
    <message>
        <source>T&amp;heme:</source>
        <translation>主题(&amp;H)：</translation>
    </message>
    <message>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>主题</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>语言(&amp;L)：</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>O&amp;ffline mode</source>
        <translation>离线模式(&amp;F)</translation>
    </message>
    <message>
        <source>Offline mode</source>
        <translation>离线模式</translation>
    </message>
    <message>
        <source>Hearth never uses the network: no downloads and no model search.</source>
        <translation>Hearth 不使用网络：不下载，也不搜索模型。</translation>
    </message>
    <message>
        <source>&amp;Remote endpoint:</source>
        <translation>远程端点(&amp;R)：</translation>
    </message>
    <message>
        <source>Remote endpoint address</source>
        <translation>远程端点地址</translation>
    </message>
    <message>
        <source>An OpenAI-compatible server (llama-server, another Hearth, vLLM): its models appear in the model picker. Leave empty for none.</source>
        <translation>兼容 OpenAI 的服务器（llama-server、另一个 Hearth、vLLM）：其模型会出现在模型选择器中。留空表示不使用。</translation>
    </message>
    <message>
        <source>API &amp;key:</source>
        <translation>API 密钥(&amp;K)：</translation>
    </message>
    <message>
        <source>Remote endpoint API key</source>
        <translation>远程端点 API 密钥</translation>
    </message>
    <message>
        <source>None</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Sent to the endpoint only; kept in a file only you can read.</source>
        <translation>只发送给该端点；保存在只有您能读取的文件中。</translation>
    </message>
    <message>
        <source>In offline mode, allow endpoints on the local &amp;network</source>
        <translation>离线模式下允许本地网络(&amp;N)上的端点</translation>
    </message>
    <message>
        <source>Allow local network endpoints in offline mode</source>
        <translation>离线模式下允许本地网络端点</translation>
    </message>
</context>
<context>
    <name>Sidebar</name>
    <message>
        <source>Chat</source>
        <translation>聊天</translation>
    </message>
    <message>
        <source>Chat with the model (Ctrl+1)</source>
        <translation>与模型聊天（Ctrl+1）</translation>
    </message>
    <message>
        <source>Summarize</source>
        <translation>摘要</translation>
    </message>
    <message>
        <source>Summarize documents (Ctrl+2)</source>
        <translation>为文档生成摘要（Ctrl+2）</translation>
    </message>
    <message>
        <source>Code</source>
        <translation>代码</translation>
    </message>
    <message>
        <source>Work on code (Ctrl+3)</source>
        <translation>处理代码（Ctrl+3）</translation>
    </message>
    <message>
        <source>Panes</source>
        <translation>面板</translation>
    </message>
    <message>
        <source>S&amp;ummaries</source>
        <translation>摘要(&amp;U)</translation>
    </message>
    <message>
        <source>Search summaries (Ctrl+F)</source>
        <translation>搜索摘要（Ctrl+F）</translation>
    </message>
    <message>
        <source>Code tas&amp;ks</source>
        <translation>代码任务(&amp;K)</translation>
    </message>
    <message>
        <source>Search code tasks (Ctrl+F)</source>
        <translation>搜索代码任务（Ctrl+F）</translation>
    </message>
    <message>
        <source>&amp;Conversations</source>
        <translation>对话(&amp;C)</translation>
    </message>
    <message>
        <source>Search all conversations (Ctrl+F)</source>
        <translation>搜索所有对话（Ctrl+F）</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>对话</translation>
    </message>
    <message>
        <source>Enter opens a conversation, F2 renames it, Delete deletes it.</source>
        <translation>按 Enter 打开对话，按 F2 重命名，按 Delete 删除。</translation>
    </message>
    <message>
        <source>&amp;Rename</source>
        <translation>重命名(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Delete</source>
        <translation>删除(&amp;D)</translation>
    </message>
    <message>
        <source>Export as &amp;Markdown…</source>
        <translation>导出为 Markdown(&amp;M)…</translation>
    </message>
    <message>
        <source>Export as &amp;JSON…</source>
        <translation>导出为 JSON(&amp;J)…</translation>
    </message>
    <message>
        <source>The history database failed: {reason}</source>
        <translation>历史数据库出错：{reason}</translation>
    </message>
    <message>
        <source>in progress</source>
        <translation>进行中</translation>
    </message>
    <message>
        <source>stopped early</source>
        <translation>已中途停止</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Conversations are not being saved: the history database is unavailable.</source>
        <translation>对话没有被保存：历史数据库不可用。</translation>
    </message>
    <message>
        <source>Nothing found.</source>
        <translation>没有找到任何内容。</translation>
    </message>
    <message>
        <source>Your summaries appear here.</source>
        <translation>你的摘要会显示在这里。</translation>
    </message>
    <message>
        <source>Your code tasks appear here.</source>
        <translation>你的代码任务会显示在这里。</translation>
    </message>
    <message>
        <source>Your conversations appear here.</source>
        <translation>你的对话会显示在这里。</translation>
    </message>
    <message>
        <source>Deleted “{title}”.</source>
        <translation>已删除“{title}”。</translation>
    </message>
    <message>
        <source>&amp;Undo</source>
        <translation>撤销(&amp;U)</translation>
    </message>
    <message>
        <source>Export conversation</source>
        <translation>导出对话</translation>
    </message>
    <message>
        <source>Markdown (*.md)</source>
        <translation>Markdown 文件 (*.md)</translation>
    </message>
    <message>
        <source>JSON (*.json)</source>
        <translation>JSON 文件 (*.json)</translation>
    </message>
    <message>
        <source>Could not export to {path}: {reason}</source>
        <translation>无法导出到 {path}：{reason}</translation>
    </message>
    <message>
        <source>Exported to {path}</source>
        <translation>已导出到 {path}</translation>
    </message>
</context>
<context>
    <name>SpeedLabel</name>
    <message>
        <source>Speed of the last answer</source>
        <translation>上一个回答的速度</translation>
    </message>
    <message>
        <source>{rate:.1f} tokens/s</source>
        <translation>{rate:.1f} token/秒</translation>
    </message>
</context>
<context>
    <name>SummarizePane</name>
    <message>
        <source>Summarize</source>
        <translation>摘要</translation>
    </message>
    <message>
        <source>Short</source>
        <translation>简短</translation>
    </message>
    <message>
        <source>Medium</source>
        <translation>适中</translation>
    </message>
    <message>
        <source>Long</source>
        <translation>详细</translation>
    </message>
    <message>
        <source>Bullet points</source>
        <translation>要点列表</translation>
    </message>
    <message>
        <source>Paragraphs</source>
        <translation>段落</translation>
    </message>
    <message>
        <source>TL;DR + key points</source>
        <translation>一句话总结 + 要点</translation>
    </message>
    <message>
        <source>Same as the document</source>
        <translation>与文档相同</translation>
    </message>
    <message>
        <source>&amp;Length:</source>
        <translation>长度(&amp;L)：</translation>
    </message>
    <message>
        <source>St&amp;yle:</source>
        <translation>风格(&amp;Y)：</translation>
    </message>
    <message>
        <source>Lan&amp;guage:</source>
        <translation>语言(&amp;G)：</translation>
    </message>
    <message>
        <source>Summary length</source>
        <translation>摘要长度</translation>
    </message>
    <message>
        <source>Summary style</source>
        <translation>摘要风格</translation>
    </message>
    <message>
        <source>Summary language</source>
        <translation>摘要语言</translation>
    </message>
    <message>
        <source>Add &amp;files…</source>
        <translation>添加文件(&amp;F)…</translation>
    </message>
    <message>
        <source>Text, Markdown, PDF, Word (.docx), HTML or source code — or drop files here</source>
        <translation>文本、Markdown、PDF、Word（.docx）、HTML 或源代码——也可以把文件拖到这里</translation>
    </message>
    <message>
        <source>Add f&amp;older…</source>
        <translation>添加文件夹(&amp;O)…</translation>
    </message>
    <message>
        <source>…or paste text here</source>
        <translation>……或在这里粘贴文本</translation>
    </message>
    <message>
        <source>Text to summarize</source>
        <translation>要摘要的文本</translation>
    </message>
    <message>
        <source>Summarize &amp;text</source>
        <translation>摘要文本(&amp;T)</translation>
    </message>
    <message>
        <source>Document</source>
        <translation>文档</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Documents to summarize</source>
        <translation>待摘要的文档</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation>取消(&amp;C)</translation>
    </message>
    <message>
        <source>Stop summarizing; what is done so far stays</source>
        <translation>停止摘要；已完成的部分会保留</translation>
    </message>
    <message>
        <source>Drop documents here. Each is summarized whole, however long, chunk by chunk, on this computer.</source>
        <translation>把文档拖到这里。无论多长，每个文档都会在本机上逐块完整地摘要。</translation>
    </message>
    <message>
        <source>Summary</source>
        <translation>摘要</translation>
    </message>
    <message>
        <source>Co&amp;py</source>
        <translation>复制(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Save…</source>
        <translation>保存(&amp;S)…</translation>
    </message>
    <message>
        <source>Open in C&amp;hat</source>
        <translation>在聊天中打开(&amp;H)</translation>
    </message>
    <message>
        <source>Ask follow-up questions with this summary in context</source>
        <translation>带着这份摘要继续提问</translation>
    </message>
    <message>
        <source>{folder} has {count} documents; the first {limit} were added.</source>
        <translation>{folder} 中有 {count} 个文档；已添加前 {limit} 个。</translation>
    </message>
    <message>
        <source>Pasted text</source>
        <translation>粘贴的文本</translation>
    </message>
    <message>
        <source>waiting</source>
        <translation>等待中</translation>
    </message>
    <message>
        <source>reading</source>
        <translation>读取中</translation>
    </message>
    <message>
        <source>summarizing</source>
        <translation>摘要中</translation>
    </message>
    <message>
        <source>done</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>Only part of {name} was read. {notes}</source>
        <translation>只读取了 {name} 的一部分。{notes}</translation>
    </message>
    <message>
        <source>Could not summarize {name}: {reason}</source>
        <translation>无法摘要 {name}：{reason}</translation>
    </message>
    <message>
        <source>{chunks} parts, {tokens} tokens, {seconds:.0f} s</source>
        <translation>{chunks} 块，{tokens} 个 token，{seconds:.0f} 秒</translation>
    </message>
    <message>
        <source>only part of the document was read</source>
        <translation>只读取了文档的一部分</translation>
    </message>
    <message>
        <source>Reading… {percent:.0f}%</source>
        <translation>读取中… {percent:.0f}%</translation>
    </message>
    <message>
        <source>Reading</source>
        <translation>读取中</translation>
    </message>
    <message>
        <source>Splitting into parts</source>
        <translation>正在分块</translation>
    </message>
    <message>
        <source>Summarizing part {done} of {total}</source>
        <translation>正在摘要第 {done}/{total} 块</translation>
    </message>
    <message>
        <source>Combining summaries ({done} of {total})</source>
        <translation>正在合并摘要（{done}/{total}）</translation>
    </message>
    <message>
        <source>Writing the summary</source>
        <translation>正在撰写摘要</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>about {time} left</source>
        <translation>约剩 {time}</translation>
    </message>
    <message>
        <source>*Summaries of the parts read so far:*</source>
        <translation>*已读部分的摘要：*</translation>
    </message>
    <message>
        <source>Add documents</source>
        <translation>添加文档</translation>
    </message>
    <message>
        <source>Add a folder of documents</source>
        <translation>添加文档文件夹</translation>
    </message>
    <message>
        <source>The pasted text has {size} characters; the box takes at most {limit}. Save it to a file and add the file instead.</source>
        <translation>粘贴的文本有 {size} 个字符，此框最多接受 {limit} 个。请将其存为文件，然后添加该文件。</translation>
    </message>
    <message>
        <source>Summary copied to the clipboard</source>
        <translation>摘要已复制到剪贴板</translation>
    </message>
    <message>
        <source>Save the summary</source>
        <translation>保存摘要</translation>
    </message>
    <message>
        <source>Markdown (*.md)</source>
        <translation>Markdown 文件 (*.md)</translation>
    </message>
    <message>
        <source>Text (*.txt)</source>
        <translation>文本 (*.txt)</translation>
    </message>
    <message>
        <source>Could not save {path}: {reason}</source>
        <translation>无法保存 {path}：{reason}</translation>
    </message>
    <message>
        <source>Saved {path}</source>
        <translation>已保存 {path}</translation>
    </message>
</context>
<context>
    <name>SummaryModelAdvice</name>
    <message>
        <source>The loaded model ({size}) is small for summaries: they keep about a third of a document&apos;s facts. {name} fits this computer and summarizes better.</source>
        <translation>当前加载的模型（{size}）用于摘要偏小：摘要只保留文档中约三分之一的事实。{name} 适合这台电脑，摘要效果更好。</translation>
    </message>
</context>
<context>
    <name>TaskForm</name>
    <message>
        <source>&amp;Generate</source>
        <translation>生成(&amp;G)</translation>
    </message>
    <message>
        <source>Write code from a description</source>
        <translation>根据描述编写代码</translation>
    </message>
    <message>
        <source>E&amp;xplain</source>
        <translation>解释(&amp;X)</translation>
    </message>
    <message>
        <source>Explain the selection or the whole code</source>
        <translation>解释选中的代码或全部代码</translation>
    </message>
    <message>
        <source>F&amp;ix</source>
        <translation>修复(&amp;I)</translation>
    </message>
    <message>
        <source>Fix the code, optionally given an error message</source>
        <translation>修复代码，可附上错误信息</translation>
    </message>
    <message>
        <source>Write &amp;tests</source>
        <translation>编写测试(&amp;T)</translation>
    </message>
    <message>
        <source>Write unit tests for the code</source>
        <translation>为代码编写单元测试</translation>
    </message>
    <message>
        <source>&amp;Review</source>
        <translation>审查(&amp;R)</translation>
    </message>
    <message>
        <source>Review the code: problems, with line numbers</source>
        <translation>审查代码：列出问题及其行号</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>语言(&amp;L)：</translation>
    </message>
    <message>
        <source>Code language</source>
        <translation>代码语言</translation>
    </message>
    <message>
        <source>Picked from the file name or the code; choose another to override it</source>
        <translation>根据文件名或代码内容自动识别；可另选一种语言覆盖</translation>
    </message>
    <message>
        <source>Req&amp;uest:</source>
        <translation>要求(&amp;U)：</translation>
    </message>
    <message>
        <source>Request</source>
        <translation>要求</translation>
    </message>
    <message>
        <source>&amp;Error:</source>
        <translation>错误(&amp;E)：</translation>
    </message>
    <message>
        <source>Error message or traceback</source>
        <translation>错误信息或回溯</translation>
    </message>
    <message>
        <source>Optional: paste the error message or traceback here</source>
        <translation>可选：在此粘贴错误信息或回溯</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Run the task (Ctrl+Enter)</source>
        <translation>运行任务（Ctrl+Enter）</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop the answer; what is written so far stays (Esc)</source>
        <translation>停止回答；已写出的内容会保留（Esc）</translation>
    </message>
    <message>
        <source>Describe the code to write, e.g. “a function that parses ISO dates”</source>
        <translation>描述要编写的代码，例如“一个解析 ISO 日期的函数”</translation>
    </message>
    <message>
        <source>the selection</source>
        <translation>选中的代码</translation>
    </message>
    <message>
        <source>the whole code</source>
        <translation>全部代码</translation>
    </message>
    <message>
        <source>Optional: anything more to ask about {scope}</source>
        <translation>可选：关于{scope}的其他要求</translation>
    </message>
</context>
<context>
    <name>TaskRunner</name>
    <message>
        <source>Stopped; the answer so far is kept.</source>
        <translation>已停止；已生成的回答已保留。</translation>
    </message>
    <message>
        <source>The task failed.</source>
        <translation>任务失败。</translation>
    </message>
    <message>
        <source>The task failed: {reason}</source>
        <translation>任务失败：{reason}</translation>
    </message>
</context>
<context>
    <name>Transcript</name>
    <message>
        <source>Ask anything. Everything runs on this computer; nothing leaves it.</source>
        <translation>尽管问吧。一切都在这台电脑上运行，不会有任何内容离开它。</translation>
    </message>
    <message>
        <source>Conversation</source>
        <translation>对话</translation>
    </message>
    <message>
        <source>Press Tab to move between the links under each message, Enter to use one.</source>
        <translation>按 Tab 在每条消息下方的链接之间移动，按 Enter 使用链接。</translation>
    </message>
    <message>
        <source>Show the previous version ({number} of {count})</source>
        <translation>显示上一个版本（第 {number} 个，共 {count} 个）</translation>
    </message>
    <message>
        <source>Show the next version ({number} of {count})</source>
        <translation>显示下一个版本（第 {number} 个，共 {count} 个）</translation>
    </message>
    <message>
        <source>{position} / {count}</source>
        <translation>{position} / {count}</translation>
    </message>
    <message>
        <source>Delete branch</source>
        <translation>删除分支</translation>
    </message>
    <message>
        <source>Delete this version and everything after it (you can undo)</source>
        <translation>删除此版本及其后的所有内容（可以撤销）</translation>
    </message>
    <message>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <source>Edit this message and continue the conversation from it</source>
        <translation>编辑这条消息，并从这里继续对话</translation>
    </message>
    <message>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <source>Thinking…</source>
        <translation>思考中…</translation>
    </message>
    <message>
        <source>Thought for {seconds} s</source>
        <translation>思考了 {seconds} 秒</translation>
    </message>
    <message>
        <source>Thoughts</source>
        <translation>思考过程</translation>
    </message>
    <message>
        <source>Hide the model&apos;s thinking</source>
        <translation>隐藏模型的思考过程</translation>
    </message>
    <message>
        <source>Show the model&apos;s thinking before this answer</source>
        <translation>显示模型在此回答之前的思考过程</translation>
    </message>
    <message>
        <source>Copy code</source>
        <translation>复制代码</translation>
    </message>
    <message>
        <source>Copy this code block</source>
        <translation>复制这段代码</translation>
    </message>
    <message>
        <source>Interrupted: the answer did not finish.</source>
        <translation>已中断：回答没有完成。</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy the answer as Markdown</source>
        <translation>以 Markdown 格式复制回答</translation>
    </message>
    <message>
        <source>Good answer</source>
        <translation>好回答</translation>
    </message>
    <message>
        <source>Remove your rating</source>
        <translation>取消你的评价</translation>
    </message>
    <message>
        <source>Bad answer</source>
        <translation>差回答</translation>
    </message>
    <message>
        <source>Branch</source>
        <translation>分支</translation>
    </message>
    <message>
        <source>Start a new conversation with the messages up to this answer</source>
        <translation>用截至此回答的消息开始一个新对话</translation>
    </message>
    <message>
        <source>finished</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>reached the token limit</source>
        <translation>达到 token 上限</translation>
    </message>
    <message>
        <source>stop string</source>
        <translation>遇到停止字符串</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>context full</source>
        <translation>上下文已满</translation>
    </message>
    <message>
        <source>TTFT {seconds:.2f} s</source>
        <translation>首 token {seconds:.2f} 秒</translation>
    </message>
    <message>
        <source>{rate:.1f} tokens/s</source>
        <translation>{rate:.1f} token/秒</translation>
    </message>
    <message>
        <source>{count} tokens</source>
        <translation>{count} 个 token</translation>
    </message>
    <message>
        <source>{count} of them thinking</source>
        <translation>其中 {count} 个用于思考</translation>
    </message>
    <message>
        <source>{share:.0%} of drafted tokens kept</source>
        <translation>草稿词元保留 {share:.0%}</translation>
    </message>
    <message>
        <source>{count} oldest messages left out to fit the context</source>
        <translation>为适应上下文，省略了最早的 {count} 条消息</translation>
    </message>
    <message>
        <source>a message was shortened to fit the context</source>
        <translation>为适应上下文，一条消息被缩短了</translation>
    </message>
</context>
</TS>
