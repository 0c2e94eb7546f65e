# Shared by the tests that look for a password or secret: run a cmdlet with every stream captured, and
# gather every text the module showed or wrote, to search it for a password.

# Runs $Command with Verbose and Debug on; returns the error record it stopped with (or the
# first it wrote), the other records of every stream, and everything printable of them.
function Invoke-Captured([scriptblock] $Command) {
    $Error.Clear()
    $VerbosePreference = 'Continue'
    $DebugPreference = 'Continue'
    $WarningPreference = 'Continue'
    $caught = $null
    $records = @(try { & $Command *>&1 } catch { $caught = $_ })
    $errorRecord = if ($caught) { $caught } else { $records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | Select-Object -First 1 }
    $texts = [System.Collections.Generic.List[string]]::new()
    # The verbose, debug and warning records of one command share its InvocationInfo, by far the largest
    # part of each as JSON: each distinct one is converted once, to the depth it had inside a record.
    $invocations = [System.Collections.Generic.HashSet[object]]::new([System.Collections.Generic.ReferenceEqualityComparer]::Instance)
    foreach ($r in $records) {
        $texts.Add(($r | Out-String))
        if ($r -is [System.Management.Automation.InformationalRecord]) {
            if ($r.InvocationInfo) { [void]$invocations.Add($r.InvocationInfo) }
            $texts.Add(($r | Select-Object * -ExcludeProperty InvocationInfo | ConvertTo-Json -Depth 5 -WarningAction SilentlyContinue))
        }
        else { $texts.Add(($r | ConvertTo-Json -Depth 5 -WarningAction SilentlyContinue)) }
        $texts.Add(($r | Format-List * -Force | Out-String))
    }
    foreach ($i in $invocations) { $texts.Add(($i | ConvertTo-Json -Depth 4 -WarningAction SilentlyContinue)) }
    foreach ($e in @($errorRecord) + @($Error) | Where-Object { $_ }) {
        $texts.Add(($e | Format-List * -Force | Out-String))
        $texts.Add(($e.Exception | Format-List * -Force | Out-String))
        $texts.Add($e.Exception.ToString())
        $texts.Add([string]$e.TargetObject)
        $texts.Add($e.CategoryInfo.ToString())
        $texts.Add($e.CategoryInfo.GetMessage())
        $texts.Add([string]$e.ErrorDetails)
        if ($e.ErrorDetails) { $texts.Add([string]$e.ErrorDetails.RecommendedAction) }
        $texts.Add(($e.InvocationInfo.BoundParameters | ConvertTo-Json -Depth 3 -WarningAction SilentlyContinue))
        $texts.Add(($e | Get-Error | Out-String))
    }
    [pscustomobject]@{ Error = $errorRecord; Records = $records; Text = $texts -join "`n" }
}

# The text of every file under $Folder written since $Since, .gz files decompressed.
function Get-WrittenText([string[]] $Folder, [datetime] $Since) {
    foreach ($file in Get-ChildItem $Folder -Recurse -File -ErrorAction SilentlyContinue | Where-Object LastWriteTimeUtc -ge $Since.ToUniversalTime()) {
        if ($file.Name -like '*.gz') {
            $stream = [IO.Compression.GZipStream]::new([IO.File]::OpenRead($file.FullName), [IO.Compression.CompressionMode]::Decompress)
            try { [IO.StreamReader]::new($stream).ReadToEnd() } finally { $stream.Dispose() }
        }
        else { [IO.File]::ReadAllText($file.FullName) }
    }
}

# The folders a cmdlet may write into: the test drive and the default backup folder.
function Get-WriteFolders { $TestDrive, (Join-Path ([Environment]::GetFolderPath('UserProfile')) 'df-backups') }

# Every secret-bearing form of $Password: as given, URI-unescaped, and escaped as JSON would write it.
function Get-SecretForms([string] $Password) {
    $plain = try { [Uri]::UnescapeDataString($Password) } catch { $Password }
    @($Password, $plain, ($plain | ConvertTo-Json).Trim('"')) | Where-Object { $_ } | Select-Object -Unique
}
